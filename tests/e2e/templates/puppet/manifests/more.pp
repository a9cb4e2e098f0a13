# Applied only when manifest_file names the whole directory.
file { "${facts['e2e_dir']}/from-dir.txt":
  content => "every manifest of the directory\n",
}

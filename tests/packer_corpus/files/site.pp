# a Puppet manifest for the corpus's puppet-masterless template (never applied)
file { '/etc/motd':
  content => "baked by the corpus\n",
}

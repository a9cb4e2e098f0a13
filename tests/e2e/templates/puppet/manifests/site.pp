# The facts come from the provisioner's facter (FACTER_e2e_dir, FACTER_role) and
# Packer's own two (packer_build_name, packer_builder_type).
file { "${facts['e2e_dir']}/from-manifest.txt":
  content => "role=${facts['role']} build=${facts['packer_builder_type']}\n",
  mode    => '0644',
}
include bakeami_e2e

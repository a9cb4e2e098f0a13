# $greeting comes from hiera (bakeami_e2e::greeting), by automatic parameter lookup.
class bakeami_e2e (String $greeting) {
  file { "${facts['e2e_dir']}/from-module.txt":
    content => "${greeting}\n",
    mode    => '0644',
  }
}

file { "/tmp/puppet-was-here": content => "yes\n" }

# One change, one failure: --detailed-exitcodes gives 6.
file { "${facts['e2e_dir']}/changed.txt": content => "changed\n" }
exec { 'fails': command => '/bin/false', require => File["${facts['e2e_dir']}/changed.txt"] }

# Nothing changes, one resource fails: --detailed-exitcodes gives 4.
exec { 'fails': command => '/bin/false' }

# The SSH user exists and may run commands as root without a password.
require 'spec_helper'

describe user(ENV.fetch('TARGET_USER')) do
  it { should exist }
end

describe command('id -u') do
  # Serverspec runs commands through sudo: root, as a provisioner would.
  its(:stdout) { should eq "0\n" }
end

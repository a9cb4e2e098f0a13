# A Serverspec suite bakeami runs against the instance it baked:
#
#   "tests": {"serverspec": {"dir": "serverspec", "pattern": "spec/**/*_spec.rb"}}
#
# bakeami runs rspec on the agent in this folder with TARGET_HOST, TARGET_PORT,
# TARGET_USER and TARGET_KEY set, and generates the spec_helper.rb (SSH backend,
# passwordless sudo) because this suite has none. tests/e2e/test_verify_layer.py
# runs it against a real sshd.
require 'spec_helper'

describe package('openssh-server') do
  it { should be_installed }
end

describe file('/etc/ssh/sshd_config') do
  it { should be_file }
  it { should be_owned_by 'root' }
  it { should be_mode 644 }
end

describe port(Integer(ENV.fetch('TARGET_PORT', '22'))) do
  it { should be_listening }
end

describe command('uname -s') do
  its(:stdout) { should match(/Linux/) }
  its(:exit_status) { should eq 0 }
end

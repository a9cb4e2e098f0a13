# Loaded only by the template unit tests (the suite's folder must exist).
require 'spec_helper'

describe file('/etc/hostname') do
  it { should be_file }
end

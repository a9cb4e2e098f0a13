"""Spot bakes (issue 11, item 4), as Packer 1.6.6 launches them: a launch template with the
spot market, an instant EC2 Fleet of one instance per spot_instance_types entry; plus what
Packer lacks: on InsufficientInstanceCapacity the next type, then on-demand with
spot_fallback_on_demand. The template, each fleet and the instance are ledger entries, removed
on every path.

moto has CreateLaunchTemplate, CreateFleet (instant), DeleteFleets and DeleteLaunchTemplate.
It always has capacity: the proxy injects InsufficientInstanceCapacity as an error answer to
CreateFleet (EC2 itself says it in the instant fleet's errorSet; the library reads both).
"""
import json

from test_faults import _template as faults_template

NO_CAPACITY = "There is no Spot capacity available that matches your request."


def _template(tmp_path, **spot):
    return faults_template(tmp_path, **spot)


def _bake(lab, bakeami, tmp_path, template):
    result = tmp_path / "result.json"
    r = bakeami.run(["bake", *lab.ssh_vars(), "--result", str(result), template])
    return r, (json.loads(result.read_text()) if result.exists() else None)


def _no_capacity(lab, count=1):
    lab.inject("CreateFleet", kind="error", status=500, code="InsufficientInstanceCapacity",
               message=NO_CAPACITY, count=count)


def test_spot_bake_falls_through_to_the_next_type(lab, clean_lab, bakeami, tmp_path):
    _no_capacity(lab)
    tpl = _template(tmp_path, instance_type="", spot_price="auto",
                    spot_instance_types=["t3.micro", "t3a.micro"], spot_tags={"Market": "spot"})
    r, res = _bake(lab, bakeami, tmp_path, tpl)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    clean_lab.keep_images(list(res["amis"].values()))
    lt = lab.requests("ec2", "CreateLaunchTemplate")
    assert len(lt) == 1, lt
    p = lt[0].params
    assert p["LaunchTemplateData.InstanceMarketOptions.MarketType"] == "spot"
    assert "LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice" not in p  # auto
    assert "LaunchTemplateData.InstanceType" not in p
    assert p["LaunchTemplateName"] == f"bakeami-{res['run_id']}-run"
    spot_tags = [k for k, v in p.items() if v == "spot-instances-request"]
    assert spot_tags, p
    fleets = lab.requests("ec2", "CreateFleet")
    assert [c.params["LaunchTemplateConfigs.1.Overrides.1.InstanceType"] for c in fleets] == \
        ["t3.micro", "t3a.micro"]
    assert [c.status for c in fleets] == [500, 200] and all(c.params["Type"] == "instant" for c in fleets)
    assert lab.requests("ec2", "RunInstances") == []
    assert "no spot capacity for t3.micro (InsufficientInstanceCapacity)" in out, out
    instance = lab.ec2().describe_instances()["Reservations"][0]["Instances"][0]
    assert instance["InstanceId"] == res["instance_id"] and instance["InstanceType"] == "t3a.micro"
    assert instance["InstanceLifecycle"] == "spot", instance
    # removed: the fleet (and its instance), the instance, the template
    assert len(lab.requests("ec2", "DeleteFleets")) == 1
    assert [c.params["LaunchTemplateId"] for c in lab.requests("ec2", "DeleteLaunchTemplate")] == \
        [lab.requests("ec2", "DeleteLaunchTemplate")[0].params["LaunchTemplateId"]]
    assert "deleted launch-template lt-" in r.stdout and "deleted fleet fleet-" in r.stdout


def test_no_spot_capacity_falls_back_to_on_demand(lab, clean_lab, bakeami, tmp_path):
    _no_capacity(lab, count=None)
    tpl = _template(tmp_path, spot_price="0.05", spot_fallback_on_demand=True)
    r, res = _bake(lab, bakeami, tmp_path, tpl)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    clean_lab.keep_images(list(res["amis"].values()))
    p = lab.requests("ec2", "CreateLaunchTemplate")[0].params
    assert p["LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice"] == "0.05"
    assert p["LaunchTemplateData.InstanceType"] == "t3.micro"
    assert [c.status for c in lab.requests("ec2", "CreateFleet")] == [500]
    runs = lab.requests("ec2", "RunInstances")
    assert len(runs) == 1 and runs[0].params["InstanceType"] == "t3.micro"
    assert "InstanceMarketOptions.MarketType" not in runs[0].params
    assert "launching t3.micro on-demand (spot_fallback_on_demand)" in out, out
    assert len(lab.requests("ec2", "DeleteLaunchTemplate")) == 1


def test_no_spot_capacity_without_fallback_fails_and_cleans_up(lab, clean_lab, bakeami, tmp_path):
    _no_capacity(lab, count=None)
    r, res = _bake(lab, bakeami, tmp_path, _template(tmp_path, spot_price="auto"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "set spot_fallback_on_demand" in r.stderr, r.stderr
    assert lab.requests("ec2", "RunInstances") == []
    assert len(lab.requests("ec2", "DeleteLaunchTemplate")) == 1


def test_bad_spot_settings_are_refused_at_validate(lab, clean_lab, bakeami, tmp_path):
    cases = [
        ({"spot_price": "cheap"}, '"cheap" is not a price'),
        ({"spot_price": "auto", "spot_instance_types": ["t3.micro"]},
         "either instance_type or spot_instance_types must be specified, not both"),
        ({"spot_tags": {"a": "b"}}, "spot_tags should not be set when not requesting a spot"),
        ({"spot_instance_types": ["t3.micro"], "instance_type": ""}, "needs spot_price"),
    ]
    for spot, needle in cases:
        r = bakeami.run(["validate", *lab.ssh_vars(), _template(tmp_path, **spot)])
        assert r.returncode == 2 and needle in r.stderr, (spot, r.stderr)
    # Packer's on-demand spellings
    for price in ("", "0"):
        ok = bakeami.run(["validate", *lab.ssh_vars(), _template(tmp_path, spot_price=price)])
        assert ok.returncode == 0, ok.stderr
    assert lab.calls() == []

"""Spot bakes (issue 11, item 4), as Packer 1.6.6 launches them: a launch template with the
spot market, an instant EC2 Fleet of one instance per spot_instance_types entry; plus what
Packer lacks: on InsufficientInstanceCapacity the next type, then on-demand with
spot_fallback_on_demand. The template, each fleet and the instance are ledger entries, removed
on every path.

moto has CreateLaunchTemplate, CreateFleet (instant), DeleteFleets and DeleteLaunchTemplate.
It always has capacity: the proxy injects InsufficientInstanceCapacity as an error answer to
CreateFleet (EC2 itself says it in the instant fleet's errorSet; the library reads both).

spot_price "auto" sends the highest DescribeSpotPriceHistory price of the last hour as the
launch template's MaxPrice (Packer 1.6.6 sends none: README says so). moto answers
DescribeSpotPriceHistory, but with one constant price (0.00001) per type and zone and no paging,
whatever the product, zone or start time; so the tests that tell the highest price from the others,
read a second page and see an empty history have the proxy answer as EC2 documents the call
(spotPriceHistorySet items, nextToken), and one bake takes moto's own answer.
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
    # auto: moto's one price for every type and zone
    assert p["LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice"] == "0.00001"
    hist = lab.requests("ec2", "DescribeSpotPriceHistory")
    assert len(hist) == 1 and hist[0].params["InstanceType.1"] == "t3.micro" and \
        hist[0].params["InstanceType.2"] == "t3a.micro", hist
    assert hist[0].params["ProductDescription.1"] == "Linux/UNIX"
    assert hist[0].time < lt[0].time
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


def _history(*rows, next_token=None):
    """A DescribeSpotPriceHistory answer as EC2's API reference shows it."""
    items = "".join(f"<item><instanceType>{t}</instanceType><productDescription>{prod}"
                    f"</productDescription><spotPrice>{price}</spotPrice><timestamp>"
                    f"2026-12-02T05:{i:02d}:00.000Z</timestamp><availabilityZone>{az}"
                    "</availabilityZone></item>" for i, (t, prod, price, az) in enumerate(rows))
    token = f"<nextToken>{next_token}</nextToken>" if next_token else "<nextToken/>"
    return (f'<?xml version="1.0" encoding="UTF-8"?><DescribeSpotPriceHistoryResponse '
            f'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{"0" * 8}-1111-2222-3333-'
            f'{"4" * 12}</requestId><spotPriceHistorySet>{items}</spotPriceHistorySet>{token}'
            f'</DescribeSpotPriceHistoryResponse>').encode()


def _answer_history(lab, *pages):
    for n, page in enumerate(pages, 1):
        lab.inject("DescribeSpotPriceHistory", kind="raw", nth=n, body=page, content_type="text/xml")


def test_auto_price_is_the_highest_of_the_history(lab, clean_lab, bakeami, tmp_path):
    suse = "SUSE Linux (Amazon VPC)"
    _answer_history(lab,
                    _history(("t3.micro", suse, "0.003100", "us-east-1b"),
                             ("t3a.micro", suse, "0.004500", "us-east-1b"),
                             ("t3.micro", suse, "not-a-price", "us-east-1b"), next_token="page-2"),
                    _history(("t3a.micro", suse, "0.002900", "us-east-1b"),
                             ("t3.micro", suse, "0.004200", "us-east-1b")))
    tpl = _template(tmp_path, instance_type="", spot_price="auto", availability_zone="us-east-1b",
                    spot_instance_types=["t3.micro", "t3a.micro"], spot_price_auto_product=suse)
    r, res = _bake(lab, bakeami, tmp_path, tpl)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    clean_lab.keep_images(list(res["amis"].values()))
    hist = lab.requests("ec2", "DescribeSpotPriceHistory")
    assert [c.params.get("NextToken") for c in hist] == [None, "page-2"], hist
    for c in hist:
        assert (c.params["InstanceType.1"], c.params["InstanceType.2"]) == ("t3.micro", "t3a.micro")
        assert c.params["ProductDescription.1"] == suse
        assert c.params["AvailabilityZone"] == "us-east-1b"
        assert c.params["StartTime"].endswith("Z"), c.params
    (lt,) = lab.requests("ec2", "CreateLaunchTemplate")
    # the highest of both pages, as EC2 wrote it; the row that is no price passed over
    assert lt.params["LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice"] == "0.004500"
    assert "spot_price auto: max price 0.004500, the highest of 5 SUSE Linux (Amazon VPC) prices" \
        in out, out
    assert "launched as a spot instance (t3.micro, max price 0.004500)" in out, out
    assert "spot_price_auto_product is deprecated in Packer 1.6.6" in out, out


def test_auto_price_with_no_history_fails_before_the_launch_template(lab, clean_lab, bakeami,
                                                                    tmp_path):
    _answer_history(lab, _history())
    r, res = _bake(lab, bakeami, tmp_path, _template(tmp_path, spot_price="auto",
                                                     availability_zone="us-east-1c"))
    assert r.returncode != 0, r.stdout + r.stderr
    assert "spot_price auto: EC2 lists no spot price for t3.micro (Linux/UNIX) in us-east-1c " \
        "in the last hour: give spot_price a price instead" in r.stderr, r.stderr
    assert lab.requests("ec2", "CreateLaunchTemplate") == []
    assert lab.requests("ec2", "CreateFleet") == [] and lab.requests("ec2", "RunInstances") == []
    assert lab.ec2().describe_instances()["Reservations"] == []


def test_bad_spot_settings_are_refused_at_validate(lab, clean_lab, bakeami, tmp_path):
    cases = [
        ({"spot_price": "cheap"}, '"cheap" is not a price'),
        ({"spot_price": "auto", "spot_instance_types": ["t3.micro"]},
         "either instance_type or spot_instance_types must be specified, not both"),
        ({"spot_tags": {"a": "b"}}, "spot_tags should not be set when not requesting a spot"),
        ({"spot_instance_types": ["t3.micro"], "instance_type": ""}, "needs spot_price"),
        ({"spot_price": "auto", "spot_price_auto_product": "Linux"},
         'builders[0].spot_price_auto_product: "Linux" is not one of Linux/UNIX, SUSE Linux'),
    ]
    for spot, needle in cases:
        r = bakeami.run(["validate", *lab.ssh_vars(), _template(tmp_path, **spot)])
        assert r.returncode == 2 and needle in r.stderr, (spot, r.stderr)
    # Packer's on-demand spellings
    for price in ("", "0"):
        ok = bakeami.run(["validate", *lab.ssh_vars(), _template(tmp_path, spot_price=price)])
        assert ok.returncode == 0, ok.stderr
    assert lab.calls() == []

package opsdeck.rules.network_test

import data.opsdeck.rules.network

_results(inp) := ((d | w) | i) if {
	d := network.deny with input as inp
	w := network.warn with input as inp
	i := network.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_res(type, name, attrs) := {
	"address": sprintf("%s.%s", [type, name]),
	"type": type,
	"name": name,
	"mode": "managed",
	"change": "create",
	"attributes": attrs,
}

_sg(ingress) := {"resources": [_res("aws_security_group", "web", {"name": "web", "ingress": ingress})]}

_ingress(from, to, protocol, cidrs) := {"from_port": from, "to_port": to, "protocol": protocol, "cidr_blocks": cidrs}

test_https_from_world_and_ssh_from_office_pass if {
	_results(_sg([
		_ingress(443, 443, "tcp", ["0.0.0.0/0"]),
		_ingress(22, 22, "tcp", ["10.0.0.0/8", "203.0.113.10/32"]),
		{"from_port": 80, "to_port": 80, "protocol": "tcp", "ipv6_cidr_blocks": ["::/0"]},
	])) == set()
}

test_ssh_from_world_denied if {
	res := _of(_sg([_ingress(22, 22, "tcp", ["0.0.0.0/0"])]), "network.admin_ports_open")
	count(res) == 1
	contains(res[0].reason, "aws_security_group.web")
	contains(res[0].reason, "port 22")
}

test_rdp_from_world_ipv6_denied if {
	res := _of(
		_sg([{"from_port": 3389, "to_port": 3389, "protocol": "tcp", "ipv6_cidr_blocks": ["::/0"]}]),
		"network.admin_ports_open",
	)
	count(res) == 1
	contains(res[0].reason, "port 3389")
	contains(res[0].reason, "::/0")
}

test_range_covering_admin_ports_denied if {
	# 0-65535 covers both 22 and 3389: one result per admin port
	count(_of(_sg([_ingress(0, 65535, "tcp", ["0.0.0.0/0"])]), "network.admin_ports_open")) == 2
	count(_of(_sg([_ingress(20, 25, "tcp", ["0.0.0.0/0"])]), "network.admin_ports_open")) == 1
	_results(_sg([_ingress(23, 3388, "tcp", ["0.0.0.0/0"])])) == set()
}

test_single_object_ingress_block if {
	count(_of(_sg(_ingress(22, 22, "tcp", ["0.0.0.0/0"])), "network.admin_ports_open")) == 1
}

test_protocol_all_denied_on_any_port if {
	every protocol in ["-1", -1, "all"] {
		res := _of(_sg([_ingress(0, 0, protocol, ["0.0.0.0/0"])]), "network.admin_ports_open")
		count(res) == 1
		contains(res[0].reason, "all traffic")
	}
}

test_icmp_from_world_passes if {
	_results(_sg([_ingress(-1, -1, "icmp", ["0.0.0.0/0"]), _ingress(0, 65535, "icmpv6", ["::/0"])])) == set()
}

test_string_ports_and_uppercase_protocol if {
	count(_of(_sg([_ingress("22", "22", "TCP", ["0.0.0.0/0"])]), "network.admin_ports_open")) == 1
	count(_of(_sg([_ingress("6", "6", "tcp", ["0.0.0.0/0"])]), "network.admin_ports_open")) == 0
}

test_unresolved_port_treated_as_widest if {
	count(_of(_sg([_ingress("${var.port}", "${var.port}", "tcp", ["0.0.0.0/0"])]), "network.admin_ports_open")) == 2
}

test_security_group_rule_ingress_denied if {
	rule := _res("aws_security_group_rule", "ssh", {
		"type": "ingress",
		"from_port": 22,
		"to_port": 22,
		"protocol": "tcp",
		"cidr_blocks": ["0.0.0.0/0"],
		"security_group_id": "${aws_security_group.web.id}",
	})
	res := _of({"resources": [rule]}, "network.admin_ports_open")
	count(res) == 1
	contains(res[0].reason, "aws_security_group_rule.ssh")
}

test_security_group_rule_egress_ignored if {
	rule := _res("aws_security_group_rule", "out", {
		"type": "egress",
		"from_port": 0,
		"to_port": 0,
		"protocol": "-1",
		"cidr_blocks": ["0.0.0.0/0"],
	})
	_results({"resources": [rule]}) == set()
}

test_inline_egress_ignored if {
	sg := _res("aws_security_group", "web", {
		"ingress": [_ingress(443, 443, "tcp", ["0.0.0.0/0"])],
		"egress": [_ingress(0, 0, "-1", ["0.0.0.0/0"])],
	})
	_results({"resources": [sg]}) == set()
}

test_vpc_ingress_rule_ipv4_and_ipv6 if {
	v4 := _res("aws_vpc_security_group_ingress_rule", "rdp", {
		"security_group_id": "${aws_security_group.web.id}",
		"cidr_ipv4": "0.0.0.0/0",
		"from_port": 3389,
		"to_port": 3389,
		"ip_protocol": "tcp",
	})
	res := _of({"resources": [v4]}, "network.admin_ports_open")
	count(res) == 1
	contains(res[0].reason, "aws_vpc_security_group_ingress_rule.rdp")

	v6_all := _res("aws_vpc_security_group_ingress_rule", "all6", {"cidr_ipv6": "::/0", "ip_protocol": "-1"})
	count(_of({"resources": [v6_all]}, "network.admin_ports_open")) == 1

	private := _res("aws_vpc_security_group_ingress_rule", "ssh", {"cidr_ipv4": "10.0.0.0/8", "from_port": 22, "to_port": 22, "ip_protocol": "tcp"})
	_results({"resources": [private]}) == set()
}

test_deleted_security_group_ignored if {
	sg := object.union(_res("aws_security_group", "old", {"ingress": [_ingress(22, 22, "tcp", ["0.0.0.0/0"])]}), {"change": "delete"})
	_results({"resources": [sg]}) == set()
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := network with input as garbage
		is_object(doc)
	}
	res := _results({"resources": [
		null,
		_res("aws_security_group", "a", {"ingress": "x"}),
		_res("aws_security_group", "b", {"ingress": [null, 1, {"cidr_blocks": 5}, {"protocol": null, "cidr_blocks": ["0.0.0.0/0"]}]}),
		_res("aws_vpc_security_group_ingress_rule", "c", {"cidr_ipv4": ["0.0.0.0/0"], "ip_protocol": {"x": 1}}),
		_res("aws_security_group_rule", "d", {"type": "ingress", "cidr_blocks": "0.0.0.0/0", "from_port": true, "to_port": "0x16", "protocol": "tcp"}),
	]})
	# "b" (unset protocol and ports: every port) and "d" (unparseable ports: every port)
	count(res) == 4
	_results({"resources": {"a": 1}}) == set()
}

_garbage_inputs := [
	{},
	{"plan": null, "resources": null, "provider": null, "commands": null, "iam_actions": null, "context": null, "config": null},
	{
		"plan": {"region": 1, "environment": "prod", "action": 3, "mutates": "yes", "requester": null, "requester_roles": "x", "stack": 5},
		"resources": [null, 1, "s", [], {"type": null, "address": null, "attributes": [1], "change": 5, "mode": null}],
		"provider": {"region": [], "default_tags": [1]},
		"commands": [1, null, ""],
		"iam_actions": [null, 1],
		"context": {"now": {"weekday": "", "hour": "2", "minute": "x"}},
		"config": {
			"allowed_regions": [1, null],
			"instance_types": {"prod": "m5", "*": [1]},
			"required_tags": [null],
			"pipeline_role": 5,
			"maintenance_windows": [null, {"days": null, "start": 1, "end": null}, {"days": [], "start": ":", "end": "0a:00"}],
			"ssm_allowed_commands": [1, null],
		},
	},
]

# Network exposure gate.
#
#   network.admin_ports_open (deny)  an ingress rule reachable from 0.0.0.0/0 or ::/0 whose
#                                    port range covers 22 (SSH) or 3389 (RDP), or whose
#                                    protocol is "-1"/"all" (every port).
#
# Ingress rules come from inline `ingress` blocks of aws_security_group (object or list;
# cidr_blocks / ipv6_cidr_blocks), aws_security_group_rule with type "ingress" (cidr_blocks /
# ipv6_cidr_blocks) and aws_vpc_security_group_ingress_rule (cidr_ipv4 / cidr_ipv6,
# ip_protocol). Ports may be numbers or digit strings; a port that is missing or an
# unresolved expression is treated as the widest value (0 for from_port, 65535 for to_port).
# Ports are checked for tcp, udp, 6, 17 and an unset protocol; icmp/icmpv6 and other IP
# protocols carry no ports. A CIDR given as an expression cannot be seen and is not flagged.
package opsdeck.rules.network

deny contains {"rule": "network.admin_ports_open", "reason": reason} if {
	some rule in _open_ingress
	rule.protocol in _all_protocols
	reason := sprintf("%s allows all traffic (protocol %s) from %s, including ports 22 and 3389", [rule.address, rule.protocol, rule.cidr])
}

deny contains {"rule": "network.admin_ports_open", "reason": reason} if {
	some rule in _open_ingress
	rule.protocol in _port_protocols
	some admin in _admin_ports
	rule.from <= admin.port
	admin.port <= rule.to
	reason := sprintf("%s allows %s from %s to port %d (%s) (port range %v-%v)", [rule.address, _proto_name(rule.protocol), rule.cidr, admin.port, admin.name, rule.from_raw, rule.to_raw])
}

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

_open_cidrs := {"0.0.0.0/0", "::/0"}

_all_protocols := {"-1", "all"}

_port_protocols := {"tcp", "udp", "6", "17", ""}

_admin_ports := [{"port": 22, "name": "SSH"}, {"port": 3389, "name": "RDP"}]

# Normalised open-to-the-world ingress rules: {address, cidr, protocol, from, to, from_raw, to_raw}.
_open_ingress contains rule if {
	some r in _live
	r.type == "aws_security_group"
	some block in _blocks(object.get(_attrs(r), "ingress", null))
	is_object(block)
	some cidr in _world_cidrs(block, ["cidr_blocks", "ipv6_cidr_blocks"])
	rule := _rule(r, cidr, block, "protocol")
}

_open_ingress contains rule if {
	some r in _live
	r.type == "aws_security_group_rule"
	object.get(_attrs(r), "type", "") == "ingress"
	some cidr in _world_cidrs(_attrs(r), ["cidr_blocks", "ipv6_cidr_blocks"])
	rule := _rule(r, cidr, _attrs(r), "protocol")
}

_open_ingress contains rule if {
	some r in _live
	r.type == "aws_vpc_security_group_ingress_rule"
	some cidr in _world_cidrs(_attrs(r), ["cidr_ipv4", "cidr_ipv6"])
	rule := _rule(r, cidr, _attrs(r), "ip_protocol")
}

# World-open CIDRs among the given keys of obj (each a list of strings or a single string).
_world_cidrs(obj, keys) := {c |
	some k in keys
	some c in _strings(object.get(obj, k, null))
	c in _open_cidrs
}

_rule(r, cidr, obj, proto_key) := {
	"address": _addr(r),
	"cidr": cidr,
	"protocol": _protocol(object.get(obj, proto_key, "")),
	"from": _port(object.get(obj, "from_port", null), 0),
	"to": _port(object.get(obj, "to_port", null), 65535),
	"from_raw": _show(object.get(obj, "from_port", null)),
	"to_raw": _show(object.get(obj, "to_port", null)),
}

_protocol(p) := "" if p == null else := lower(p) if is_string(p) else := sprintf("%v", [p])

_proto_name(p) := "traffic" if p == "" else := p

# A port as a number: numbers as given, digit strings parsed, anything else -> default.
_port(p, fallback) := p if is_number(p) else := _digits_value(p) if _is_digits(p) else := fallback

_is_digits(s) if {
	is_string(s)
	s != ""
	trim(s, "0123456789") == ""
}

# to_number rejects leading zeros ("022"), so strip them first.
_digits_value(s) := 0 if trim_left(s, "0") == "" else := to_number(trim_left(s, "0"))

_show(v) := "unset" if v == null else := sprintf("%v", [v])

_strings(x) := [s | some s in x; is_string(s)] if is_array(x) else := [x] if is_string(x) else := []

# --- helpers ---

_resources := [r | some r in input.resources; is_object(r)] if {
	is_array(input.resources)
} else := []

# Managed resources that still exist after the plan (create, and any future update/replace).
_live := [r |
	some r in _resources
	object.get(r, "mode", "managed") == "managed"
	object.get(r, "change", "create") != "delete"
]

_attrs(r) := r.attributes if is_object(r.attributes) else := {}

_addr(r) := r.address if is_string(r.address) else := sprintf("%v.%v", [object.get(r, "type", "?"), object.get(r, "name", "?")])

_blocks(x) := x if is_array(x) else := [x] if is_object(x) else := []

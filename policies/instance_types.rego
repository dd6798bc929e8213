# Instance type gate.
#
#   instance_types.allowed (deny)  a created aws_instance / aws_launch_template (instance_type)
#                                  or aws_db_instance (instance_class, listed literally, e.g.
#                                  "db.t3.micro") uses a type that is not allowed for
#                                  plan.environment.
#
# config.instance_types maps an environment to its allowed types; "*" is the default for any
# environment that is not listed (and for a plan without an environment). No restriction when
# the map is missing or empty, when it has neither the environment nor "*", or when the chosen
# list is empty. A resource without a type attribute (e.g. a launch template that leaves it to
# the instance) is not checked; a Terraform expression ("${var.type}") cannot be verified and is
# denied like any other unlisted value.
package opsdeck.rules.instance_types

deny contains {"rule": "instance_types.allowed", "reason": reason} if {
	count(_allowed) > 0
	some r in _resources
	_managed(r)
	_kept(r)
	attr := _type_attribute[r.type]
	value := _attrs(r)[attr]
	is_string(value)
	not value in _allowed
	reason := sprintf("%s uses %s %s, which is not allowed for %s (allowed: %s)", [_addr(r), attr, value, _scope, _join(_allowed)])
}

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

_type_attribute := {
	"aws_instance": "instance_type",
	"aws_launch_template": "instance_type",
	"aws_db_instance": "instance_class",
}

_map := _cfg.instance_types if is_object(_cfg.instance_types) else := {}

_env := input.plan.environment if is_string(input.plan.environment) else := ""

# The list that applies: the environment's own entry, else "*".
_list_key := _env if {
	_env != ""
	_env in object.keys(_map)
} else := "*" if {
	"*" in object.keys(_map)
}

_allowed := {t | some t in _map[_list_key]; is_string(t)} if {
	is_array(_map[_list_key])
} else := set()

_scope := sprintf("environment %s", [_env]) if {
	_list_key == _env
} else := sprintf("environment %s (default list \"*\")", [_env]) if {
	_env != ""
} else := "a plan without an environment (default list \"*\")"

# --- helpers ---

_cfg := input.config if is_object(input.config) else := {}

_resources := [r | some r in input.resources; is_object(r)] if {
	is_array(input.resources)
} else := []

_managed(r) if object.get(r, "mode", "managed") == "managed"

_kept(r) if object.get(r, "change", "create") != "delete"

_attrs(r) := r.attributes if is_object(r.attributes) else := {}

_addr(r) := r.address if is_string(r.address) else := sprintf("%v.%v", [object.get(r, "type", "?"), object.get(r, "name", "?")])

_join(xs) := concat(", ", sort([sprintf("%v", [x]) | some x in xs]))

# IAM change gate.
#
#   iam.pipeline_only (deny)  the plan creates, changes or deletes a managed aws_iam_*
#                             resource, or calls an IAM API action (an iam_actions entry
#                             starting with "iam:", case-insensitive, or the wildcard "*"),
#                             and the requester is not config.pipeline_role (neither as
#                             plan.requester nor in plan.requester_roles).
#
# Fails closed: when no pipeline_role is configured, nobody may change IAM. Data sources
# (mode "data", e.g. aws_iam_policy_document) only read and are not IAM changes.
package opsdeck.rules.iam

deny contains {"rule": "iam.pipeline_only", "reason": reason} if {
	not _pipeline_requester
	some r in _resources
	object.get(r, "mode", "managed") == "managed"
	is_string(r.type)
	startswith(r.type, "aws_iam_")
	reason := sprintf("%s would %s an IAM resource, but %s", [_addr(r), _verb(r), _who])
}

deny contains {"rule": "iam.pipeline_only", "reason": reason} if {
	not _pipeline_requester
	some action in _iam_actions
	reason := sprintf("the plan calls %s, but %s", [action, _who])
}

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

_iam_actions contains action if {
	is_array(input.iam_actions)
	some action in input.iam_actions
	is_string(action)
	startswith(lower(trim_space(action)), "iam:")
}

_iam_actions contains action if {
	is_array(input.iam_actions)
	some action in input.iam_actions
	is_string(action)
	trim_space(action) == "*"
}

_pipeline_role := _cfg.pipeline_role if {
	is_string(_cfg.pipeline_role)
	_cfg.pipeline_role != ""
}

_pipeline_requester if input.plan.requester == _pipeline_role

_pipeline_requester if {
	is_array(input.plan.requester_roles)
	_pipeline_role in input.plan.requester_roles
}

_who := sprintf("requester %v is not the pipeline role %s; IAM changes must go through the pipeline", [_requester, _pipeline_role]) if {
	_pipeline_role
} else := sprintf("no pipeline_role is configured, so IAM changes are blocked for everyone (requester %v)", [_requester])

_requester := input.plan.requester if is_string(input.plan.requester) else := "(unknown)"

_verb(r) := "delete" if r.change == "delete" else := "update" if r.change == "update" else := "create"

# --- helpers ---

_cfg := input.config if is_object(input.config) else := {}

_resources := [r | some r in input.resources; is_object(r)] if {
	is_array(input.resources)
} else := []

_addr(r) := r.address if is_string(r.address) else := sprintf("%v.%v", [object.get(r, "type", "?"), object.get(r, "name", "?")])

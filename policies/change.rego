# Change-kind notices for approvers.
#
#   change.destroy     (warn)  plan.action is "destroy" (or "delete"/"terminate"), or a
#                              resource change is "delete" (or "replace"). One result that
#                              names the deleted resources.
#   change.production  (warn)  a mutating plan whose environment is "prod".
#   change.read_only   (info)  plan.mutates is false.
#
# A plan counts as mutating unless plan.mutates is exactly false.
package opsdeck.rules.change

warn contains {"rule": "change.destroy", "reason": _destroy_reason} if {
	_destroys
}

warn contains {"rule": "change.production", "reason": reason} if {
	input.plan.environment == "prod"
	not input.plan.mutates == false
	reason := sprintf("the plan %s changes the prod environment%s", [_action_text, _stack_text])
}

info contains {"rule": "change.read_only", "reason": reason} if {
	input.plan.mutates == false
	reason := sprintf("the plan %s does not change anything", [_action_text])
}

deny contains r if {
	some r in set()
}

_destroy_actions := {"destroy", "delete", "terminate"}

_deleting_changes := {"delete", "replace"}

_deleted := {_addr(r) |
	some r in _resources
	object.get(r, "mode", "managed") == "managed"
	object.get(r, "change", "") in _deleting_changes
}

_destroys if input.plan.action in _destroy_actions

_destroys if count(_deleted) > 0

_destroy_reason := sprintf("the plan deletes %d resource(s): %s", [count(_deleted), _join(_deleted)]) if {
	count(_deleted) > 0
} else := sprintf("the plan %s destroys resources", [_action_text])

_action_text := sprintf("(%s)", [input.plan.action]) if is_string(input.plan.action) else := "(unknown action)"

_stack_text := sprintf(" (stack %s)", [input.plan.stack]) if {
	is_string(input.plan.stack)
	input.plan.stack != ""
} else := ""

# --- helpers ---

_resources := [r | some r in input.resources; is_object(r)] if {
	is_array(input.resources)
} else := []

_addr(r) := r.address if is_string(r.address) else := sprintf("%v.%v", [object.get(r, "type", "?"), object.get(r, "name", "?")])

_join(xs) := concat(", ", sort([sprintf("%v", [x]) | some x in xs]))

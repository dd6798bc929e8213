# Region gate.
#
#   regions.allowed (deny)  the plan (plan.region), its AWS provider (provider.region) or a
#                           resource (attributes.region) targets a region that is not in
#                           config.allowed_regions. An empty or missing list allows every region.
#
# Every policy file in this directory follows the same contract: package
# opsdeck.rules.<area>, three partial sets deny / warn / info of {"rule", "reason"} objects,
# configuration read from input.config. Builtins in regorus raise errors (they do not return
# undefined) on wrongly typed arguments, so every value from the input is type-checked before
# it reaches a builtin.
package opsdeck.rules.regions

deny contains {"rule": "regions.allowed", "reason": reason} if {
	count(_allowed) > 0
	some region in _target_regions
	not region in _allowed
	reason := sprintf("the plan targets region %s, which is not in the allowed regions (%s)", [region, _join(_allowed)])
}

deny contains {"rule": "regions.allowed", "reason": reason} if {
	count(_allowed) > 0
	some r in _resources
	_managed(r)
	_kept(r)
	region := _attrs(r).region
	is_string(region)
	region != ""
	not region in _allowed
	reason := sprintf("%s sets region %s, which is not in the allowed regions (%s)", [_addr(r), region, _join(_allowed)])
}

# This area emits no warn or info results; these rules keep both sets defined (empty).
warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

_target_regions contains region if {
	region := input.plan.region
	is_string(region)
	region != ""
}

_target_regions contains region if {
	region := input.provider.region
	is_string(region)
	region != ""
}

_allowed := {r | some r in _cfg.allowed_regions; is_string(r)} if {
	is_array(_cfg.allowed_regions)
} else := set()

# --- helpers (kept per file so each policy stands alone) ---

_cfg := input.config if is_object(input.config) else := {}

_resources := [r | some r in input.resources; is_object(r)] if {
	is_array(input.resources)
} else := []

_managed(r) if object.get(r, "mode", "managed") == "managed"

# Anything that still exists after the plan (create, and any future update/replace).
_kept(r) if object.get(r, "change", "create") != "delete"

_attrs(r) := r.attributes if is_object(r.attributes) else := {}

_addr(r) := r.address if is_string(r.address) else := sprintf("%v.%v", [object.get(r, "type", "?"), object.get(r, "name", "?")])

_join(xs) := concat(", ", sort([sprintf("%v", [x]) | some x in xs]))

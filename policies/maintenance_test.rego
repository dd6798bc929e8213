package opsdeck.rules.maintenance_test

import data.opsdeck.rules.maintenance

_weekend := {"maintenance_windows": [{"days": ["sat", "sun"], "start": "01:00", "end": "05:00"}]}

_results(inp) := ((d | w) | i) if {
	d := maintenance.deny with input as inp
	w := maintenance.warn with input as inp
	i := maintenance.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_ids(inp) := {r.rule | some r in _results(inp)}

_at(day, hour, minute, config) := {
	"plan": {"id": "p-1", "action": "update", "mutates": true, "environment": "prod"},
	"context": {"now": {"weekday": day, "hour": hour, "minute": minute}},
	"config": config,
}

test_inside_window_passes if {
	_results(_at("sat", 2, 30, _weekend)) == set()
}

test_outside_window_denied if {
	res := _of(_at("sat", 6, 0, _weekend), "maintenance.outside_window")
	count(res) == 1
	contains(res[0].reason, "sat 06:00 UTC")
	contains(res[0].reason, "sat,sun 01:00-05:00")
}

test_wrong_day_denied if {
	_ids(_at("wed", 2, 30, _weekend)) == {"maintenance.outside_window"}
}

test_start_inclusive_end_exclusive if {
	_results(_at("sun", 1, 0, _weekend)) == set()
	_results(_at("sun", 4, 59, _weekend)) == set()
	_ids(_at("sun", 5, 0, _weekend)) == {"maintenance.outside_window"}
	_ids(_at("sun", 0, 59, _weekend)) == {"maintenance.outside_window"}
}

test_any_of_several_windows if {
	config := {"maintenance_windows": [
		{"days": ["sat", "sun"], "start": "01:00", "end": "05:00"},
		{"days": ["wed"], "start": "13:30", "end": "14:00"},
	]}
	_results(_at("wed", 13, 45, config)) == set()
	_ids(_at("wed", 14, 0, config)) == {"maintenance.outside_window"}
}

test_window_past_midnight if {
	config := {"maintenance_windows": [{"days": ["fri"], "start": "22:00", "end": "02:00"}]}
	_results(_at("fri", 23, 0, config)) == set()
	_results(_at("sat", 1, 30, config)) == set()
	_ids(_at("sat", 2, 0, config)) == {"maintenance.outside_window"}
	_ids(_at("fri", 1, 30, config)) == {"maintenance.outside_window"}
}

test_day_names_case_insensitive_and_days_optional if {
	_results(_at("Saturday", 2, 0, {"maintenance_windows": [{"days": ["SAT"], "start": "01:00", "end": "05:00"}]})) == set()
	every_day := {"maintenance_windows": [{"start": "01:00", "end": "05:00"}]}
	_results(_at("tue", 3, 0, every_day)) == set()
	_ids(_at("tue", 6, 0, every_day)) == {"maintenance.outside_window"}
}

test_no_windows_configured_warns if {
	every config in [{"maintenance_windows": []}, {}] {
		res := _of(_at("wed", 12, 0, config), "maintenance.none_configured")
		count(res) == 1
		_ids(_at("wed", 12, 0, config)) == {"maintenance.none_configured"}
	}
}

test_non_prod_and_read_only_plans_ignored if {
	staging := object.union(_at("wed", 12, 0, _weekend), {"plan": {"environment": "staging"}})
	_results(staging) == set()
	no_env := object.union(_at("wed", 12, 0, _weekend), {"plan": {"environment": null}})
	_results(no_env) == set()
	read_only := object.union(_at("wed", 12, 0, _weekend), {"plan": {"mutates": false}})
	_results(read_only) == set()
	read_only_unconfigured := object.union(_at("wed", 12, 0, {}), {"plan": {"mutates": false}})
	_results(read_only_unconfigured) == set()
}

test_missing_mutates_counts_as_mutating if {
	inp := {"plan": {"environment": "prod"}, "context": {"now": {"weekday": "wed", "hour": 12, "minute": 0}}, "config": _weekend}
	_ids(inp) == {"maintenance.outside_window"}
}

test_missing_clock_fails_closed if {
	inp := {"plan": {"environment": "prod", "mutates": true}, "context": {}, "config": _weekend}
	res := _of(inp, "maintenance.outside_window")
	count(res) == 1
	contains(res[0].reason, "unknown time")
}

test_malformed_windows_never_match if {
	config := {"maintenance_windows": [
		5,
		{"days": "sat", "start": "1am", "end": "05:00"},
		{"days": ["sat"], "start": "01:00"},
		{"days": ["sat"], "start": "01:00", "end": "25:00"},
		{"days": [1, null], "start": "01:00", "end": "05:00"},
	]}
	_ids(_at("sat", 2, 0, config)) == {"maintenance.outside_window"}
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := maintenance with input as garbage
		is_object(doc)
	}
	res := _results({
		"plan": {"environment": "prod", "mutates": "yes"},
		"context": {"now": {"weekday": 6, "hour": "02", "minute": null}},
		"config": {"maintenance_windows": "sat 01:00-05:00"},
	})
	res == {{"rule": "maintenance.none_configured", "reason": "the plan changes prod, and no maintenance windows are configured"}}
	_results({"plan": null, "context": null, "config": null}) == set()
	is_set(_results({"plan": {"environment": "prod"}, "context": {"now": "x"}, "config": _weekend}))
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

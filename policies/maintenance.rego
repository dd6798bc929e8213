# Maintenance window gate for production changes.
#
#   maintenance.none_configured (warn)  a mutating prod plan, and config.maintenance_windows
#                                       is empty or missing.
#   maintenance.outside_window  (deny)  a mutating prod plan, windows are configured, and
#                                       context.now is in none of them.
#
# Windows are UTC: {"days": ["sat", "sun"], "start": "01:00", "end": "05:00"}; a time is
# inside when its day is listed and start <= HH:MM < end (minutes since midnight). Days are
# compared by their first three letters, case-insensitively ("Saturday" = "sat"); a window
# without days applies every day. A window whose end is before its start runs past
# midnight (e.g. sat 22:00-02:00 also covers sun 00:00-01:59); start == end means the whole
# day. "24:00" is accepted as an end. A malformed window never matches. A plan counts as
# mutating unless plan.mutates is exactly false, and when context.now is missing or
# malformed the check fails closed.
package opsdeck.rules.maintenance

warn contains {"rule": "maintenance.none_configured", "reason": reason} if {
	_prod_change
	count(_configured) == 0
	reason := "the plan changes prod, and no maintenance windows are configured"
}

deny contains {"rule": "maintenance.outside_window", "reason": reason} if {
	_prod_change
	count(_configured) > 0
	not _in_any_window
	reason := sprintf("the plan changes prod at %s, outside the maintenance windows (%s)", [_now_text, _windows_text])
}

info contains r if {
	some r in set()
}

_prod_change if {
	input.plan.environment == "prod"
	not input.plan.mutates == false
}

_configured := _cfg.maintenance_windows if is_array(_cfg.maintenance_windows) else := []

_in_any_window if {
	some w in _configured
	_in_window(w)
}

# Window within one day.
_in_window(w) if {
	[start, end] := _bounds(w)
	start < end
	_day_listed(w, _today)
	start <= _now_minutes
	_now_minutes < end
}

# Window past midnight: the evening part on a listed day ...
_in_window(w) if {
	[start, end] := _bounds(w)
	start > end
	_day_listed(w, _today)
	_now_minutes >= start
}

# ... and the morning part on the day after a listed day.
_in_window(w) if {
	[start, end] := _bounds(w)
	start > end
	_day_listed(w, _previous_day[_today])
	_now_minutes < end
}

# start == end: the whole day.
_in_window(w) if {
	[start, end] := _bounds(w)
	start == end
	_day_listed(w, _today)
}

_bounds(w) := [_minutes(w.start), _minutes(w.end)] if is_object(w)

_day_listed(w, _) if {
	not _has_days(w)
}

_day_listed(w, day) if {
	some d in w.days
	is_string(d)
	_short_day(d) == day
}

_has_days(w) if {
	is_array(w.days)
	count(w.days) > 0
}

_short_day(d) := substring(lower(trim_space(d)), 0, 3)

_previous_day := {"mon": "sun", "tue": "mon", "wed": "tue", "thu": "wed", "fri": "thu", "sat": "fri", "sun": "sat"}

_today := day if {
	is_string(input.context.now.weekday)
	day := _short_day(input.context.now.weekday)
	_previous_day[day]
}

_now_minutes := (h * 60) + m if {
	is_object(input.context.now)
	h := input.context.now.hour
	m := object.get(input.context.now, "minute", 0)
	is_number(h)
	is_number(m)
}

# "HH:MM" -> minutes since midnight (00:00 .. 24:00); undefined when malformed.
_minutes(s) := (h * 60) + m if {
	is_string(s)
	parts := split(trim_space(s), ":")
	count(parts) == 2
	h := _digits_value(parts[0])
	m := _digits_value(parts[1])
	h <= 24
	m < 60
	(h * 60) + m <= 1440
}

_digits_value(s) := 0 if {
	_is_digits(s)
	trim_left(s, "0") == ""
} else := to_number(trim_left(s, "0")) if {
	# to_number rejects leading zeros ("05"), so strip them first.
	_is_digits(s)
}

_is_digits(s) if {
	s != ""
	trim(s, "0123456789") == ""
}

_now_text := sprintf("%s %s UTC", [_today, _clock(_now_minutes)]) if {
	_today
	_now_minutes
} else := "an unknown time (context.now is missing or malformed)"

_windows_text := concat("; ", [_window_text(w) | some w in _configured])

_window_text(w) := sprintf("%s %v-%v", [_days_text(w), object.get(w, "start", "?"), object.get(w, "end", "?")]) if {
	is_object(w)
} else := sprintf("malformed window %v", [w])

_days_text(w) := concat(",", [sprintf("%v", [d]) | some d in w.days]) if _has_days(w) else := "every day"

_clock(minutes) := sprintf("%02d:%02d", [floor(minutes / 60), minutes % 60])

# --- helpers ---

_cfg := input.config if is_object(input.config) else := {}

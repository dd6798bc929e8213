# SSM command gate.
#
#   ssm.command_not_allowed  (deny)  a command in input.commands does not start with an
#                                    allowed prefix from config.ssm_allowed_commands.
#   ssm.shell_metacharacters (deny)  a command contains ; | & ` $( > < or a line break.
#   ssm.library_script       (info)  the plan sends a version of the tenant's library script
#                                    (input.script with its library version). A script is not
#                                    a command: the allow list does not judge it. It is allowed
#                                    because it is a reviewed library version: checked when it
#                                    was added (the script.* rules judge its lines then and on
#                                    every plan), and each plan still needs its own approval.
#   ssm.library_script_unapproved (deny) the tenant uses only approved library entries
#                                    (config.library_requires_approval) and this version has no
#                                    approval (`opsdeck library approve NAME@V`).
#
# A tenant that wants no scripts on its instances adds its own rule denying input.script.
#
# Prefixes match whole words: "systemctl status" allows "systemctl status nginx" but not
# "systemctl stop nginx" or "systemctl statusx"; "df" allows "df -h" but not "dfx". Runs of
# spaces and tabs count as one separator. Fails closed: with no allowed prefixes configured,
# every command is denied. Non-string entries of input.commands are ignored.
package opsdeck.rules.ssm

deny contains {"rule": "ssm.command_not_allowed", "reason": reason} if {
	some command in _commands
	not _allowed_command(command)
	reason := sprintf("command %q does not start with an allowed command (%s)", [command, _allowed_text])
}

deny contains {"rule": "ssm.shell_metacharacters", "reason": reason} if {
	some command in _commands
	found := [m.name | some m in _metacharacters; contains(command, m.chars)]
	count(found) > 0
	reason := sprintf("command %q contains shell metacharacters (%s)", [command, concat(" ", found)])
}

deny contains {"rule": "ssm.library_script_unapproved", "reason": reason} if {
	lib := _script_library
	_cfg.library_requires_approval == true
	lib.approved != true
	reason := sprintf("library script %s is not approved, and this tenant runs only approved library entries (library_requires_approval): an approver runs `opsdeck library approve %s`", [_label(lib), _label(lib)])
}

warn contains r if {
	some r in set()
}

info contains {"rule": "ssm.library_script", "reason": reason} if {
	lib := _script_library
	reason := sprintf("sends library script %s (%s): not an allow-listed command; it runs as a version of the tenant's library, checked when it was added, and this plan needs its own approval", [_label(lib), _shell])
}

_script_library := input.script.library if {
	is_object(input.script)
	is_object(input.script.library)
}

_label(lib) := lib.label if is_string(lib.label) else := "(unnamed)"

_shell := input.script.shell if is_string(input.script.shell) else := "sh"

_metacharacters := [
	{"chars": ";", "name": ";"},
	{"chars": "|", "name": "|"},
	{"chars": "&", "name": "&"},
	{"chars": "`", "name": "`"},
	{"chars": "$(", "name": "$("},
	{"chars": ">", "name": ">"},
	{"chars": "<", "name": "<"},
	{"chars": "\n", "name": "newline"},
	{"chars": "\r", "name": "carriage return"},
]

_commands := [c | some c in input.commands; is_string(c)] if is_array(input.commands) else := []

_prefixes := [p | some p in _cfg.ssm_allowed_commands; is_string(p); count(_words(p)) > 0] if {
	is_array(_cfg.ssm_allowed_commands)
} else := []

_allowed_command(command) if {
	words := _words(command)
	some prefix in _prefixes
	expected := _words(prefix)
	count(words) >= count(expected)
	array.slice(words, 0, count(expected)) == expected
}

_words(s) := [w | some w in split(replace(s, "\t", " "), " "); w != ""]

_allowed_text := concat(", ", _prefixes) if count(_prefixes) > 0 else := "none are configured"

# --- helpers ---

_cfg := input.config if is_object(input.config) else := {}

# SSM command gate.
#
#   ssm.command_not_allowed  (deny)  a command in input.commands does not start with an
#                                    allowed prefix from config.ssm_allowed_commands.
#   ssm.shell_metacharacters (deny)  a command contains ; | & ` $( > < or a line break.
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

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

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

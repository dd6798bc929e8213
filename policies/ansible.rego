# Playbook gate: what a plan's playbooks do, task by task (input.ansible.tasks: each task's
# file, play, name, module as written without the ansible.builtin. prefix, and arguments).
# Judged on every plan with a playbook and on every Ansible library entry when it is added.
#
#   ansible.remote_script   (deny)  a shell, command or raw task that downloads with curl or
#                                   wget and pipes what it fetched into a shell: code nobody
#                                   reviewed, run as whoever the play becomes.
#   ansible.world_writable  (deny)  a task that sets a world-writable mode (the last octal digit
#                                   2, 3, 6 or 7, or o+w, a+w, o=…w…): any local user could
#                                   change the file, or what runs from it.
package opsdeck.rules.ansible

deny contains {"rule": "ansible.remote_script", "reason": reason} if {
	some t in _tasks
	t.module in _command_modules
	text := _command_text(t.args)
	_pipes_download_into_shell(text)
	reason := sprintf("task %s in %s pipes a download into a shell (%q): fetch the file, check its digest, then run it", [_task_name(t), t.file, text])
}

deny contains {"rule": "ansible.world_writable", "reason": reason} if {
	some t in _tasks
	is_object(t.args)
	mode := _mode_text(t.args.mode)
	_world_writable(mode)
	reason := sprintf("task %s in %s sets mode %s, which lets any local user write the file: drop the write bit for others", [_task_name(t), t.file, mode])
}

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

_command_modules := {"shell", "command", "raw"}

_tasks := [t | some t in input.ansible.tasks; is_object(t)] if {
	is_array(input.ansible.tasks)
} else := []

_command_text(args) := args if is_string(args)

_command_text(args) := args.cmd if {
	is_object(args)
	is_string(args.cmd)
}

_command_text(args) := args._raw_params if {
	is_object(args)
	is_string(args._raw_params)
}

_task_name(t) := sprintf("%q", [t.name]) if is_string(t.name) else := sprintf("(%s)", [t.module])

_mode_text(m) := m if is_string(m)

_mode_text(m) := sprintf("%v", [m]) if is_number(m)

# A command whose part after a pipe starts with a shell (or sudo and a shell), the part before
# it fetching with curl or wget.
_pipes_download_into_shell(text) if {
	parts := split(text, "|")
	some i, part in parts
	i > 0
	_fetches(parts[i - 1])
	words := [w | some w in split(trim_space(part), " "); w != ""]
	_starts_a_shell(words)
}

_fetches(s) if contains(s, "curl")

_fetches(s) if contains(s, "wget")

_shells := {"sh", "bash", "zsh", "dash", "ksh"}

_starts_a_shell(words) if _basename(words[0]) in _shells

_starts_a_shell(words) if {
	words[0] == "sudo"
	_basename(words[1]) in _shells
}

_basename(path) := name if {
	steps := split(path, "/")
	name := steps[count(steps) - 1]
}

# Octal: three or four digits, the last one the others' bits.
_world_writable(mode) if {
	count(mode) in {3, 4}
	trim(mode, "01234567") == ""
	substring(mode, count(mode) - 1, 1) in {"2", "3", "6", "7"}
}

# Symbolic: a clause for others or all that adds or sets w.
_world_writable(mode) if {
	some clause in split(mode, ",")
	some op in ["+", "="]
	at := indexof(clause, op)
	at >= 0
	who := substring(clause, 0, at)
	trim(who, "ugoa") == ""
	_others(who)
	contains(substring(clause, at + 1, count(clause)), "w")
}

_others(who) if contains(who, "o")

_others(who) if contains(who, "a")

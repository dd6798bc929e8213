# Script gate: what a library script does, line by line (input.script: name, file, shell, and
# lines, the script's own lines numbered from 1, opsdeck's parameter preamble left out). Judged
# when a script entry is added and again on every plan that sends one through SSM.
#
#   script.remote_script   (deny)  a line that downloads with curl or wget and runs what it
#                                  fetched in a shell: piped into one (curl ... | sh), or handed
#                                  to one, source or eval by substitution (bash <(curl ...),
#                                  sh -c "$(wget -qO- ...)"): code nobody reviewed, run as root.
#   script.world_writable  (deny)  chmod, or mkdir/install -m, with a mode others may write (the
#                                  last octal digit 2, 3, 6 or 7, or o+w, a+w, o=...w...): any
#                                  local user could change the file, or what runs from it.
#
# Lines are read one by one, comments (lines starting with #) skipped; a command continued over
# several lines with a backslash is judged line by line.
package opsdeck.rules.script

deny contains {"rule": "script.remote_script", "reason": reason} if {
	some i, line in _lines
	_runs_a_download(line)
	reason := sprintf("line %d of %s runs a download in a shell (%q): fetch the file, check its digest, then run it", [i + 1, _file, trim_space(line)])
}

deny contains {"rule": "script.world_writable", "reason": reason} if {
	some i, line in _lines
	some mode in _modes_set(line)
	_world_writable(mode)
	reason := sprintf("line %d of %s sets mode %s (%q), which lets any local user write the file: drop the write bit for others", [i + 1, _file, mode, trim_space(line)])
}

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

# The script's lines with their place kept; comments and non-strings are blank.
_lines := [_code(l) | some l in input.script.lines] if {
	is_object(input.script)
	is_array(input.script.lines)
} else := []

_code(l) := "" if not is_string(l)

_code(l) := "" if {
	is_string(l)
	startswith(trim_space(l), "#")
}

_code(l) := l if {
	is_string(l)
	not startswith(trim_space(l), "#")
}

_file := input.script.file if {
	is_object(input.script)
	is_string(input.script.file)
} else := "the script"

# Words of a line, separators (; & | parentheses) and quotes read as spaces.
_words(line) := [w | some w in split(_spaced(line), " "); w != ""]

_spaced(line) := replace(replace(replace(replace(replace(replace(replace(replace(line, "\t", " "), ";", " "), "&", " "), "|", " "), "(", " "), ")", " "), "\"", " "), "'", " ")

_shells := {"sh", "bash", "zsh", "dash", "ksh"}

_runners := _shells | {"source", ".", "eval"}

_basename(path) := name if {
	steps := split(path, "/")
	name := steps[count(steps) - 1]
}

_fetches(s) if contains(s, "curl")

_fetches(s) if contains(s, "wget")

# curl ... | sh: a part after a pipe that starts with a shell (or sudo and a shell), the part
# before it fetching.
_runs_a_download(line) if {
	parts := split(line, "|")
	some i, part in parts
	i > 0
	_fetches(parts[i - 1])
	words := [w | some w in split(trim_space(part), " "); w != ""]
	_starts_a_shell(words)
}

# bash <(curl ...), sh -c "$(wget ...)", source <(curl ...), eval "$(curl ...)".
_runs_a_download(line) if {
	packed := replace(line, " ", "")
	some opener in ["<(", "$("]
	some tool in ["curl", "wget"]
	contains(packed, concat("", [opener, tool]))
	words := _words(line)
	some w in words
	_basename(w) in _runners
}

_starts_a_shell(words) if _basename(words[0]) in _shells

_starts_a_shell(words) if {
	words[0] == "sudo"
	_basename(words[1]) in _shells
}

# The modes a line sets: chmod's first argument that is not an option; mkdir's or install's -m
# or --mode= value.
_modes_set(line) := {_unquoted(m) | some m in _mode_words(_words(line))}

_mode_words(words) := {words[k] |
	some j, w in words
	_basename(w) == "chmod"
	rest := [x | some i, x in words; i > j]
	opts := [i | some i, x in rest; not startswith(x, "-")]
	count(opts) > 0
	k := j + 1 + min(opts)
} | {words[j + 1] |
	some j, w in words
	w == "-m"
	_makes_files(words)
} | {substring(w, 7, -1) |
	some w in words
	startswith(w, "--mode=")
	_makes_files(words)
}

_makes_files(words) if {
	some w in words
	_basename(w) in {"mkdir", "install"}
}

_unquoted(m) := trim(m, "\"'")

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
	who != ""
	trim(who, "ugoa") == ""
	_others(who)
	contains(substring(clause, at + 1, count(clause)), "w")
}

_others(who) if contains(who, "o")

_others(who) if contains(who, "a")

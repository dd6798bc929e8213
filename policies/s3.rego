# S3 exposure gate.
#
#   s3.public_acl                   (deny)  an aws_s3_bucket_acl, or an aws_s3_bucket with an
#                                           `acl` argument, uses public-read,
#                                           public-read-write or authenticated-read, or an
#                                           access_control_policy grants to the AllUsers or
#                                           AuthenticatedUsers group.
#   s3.public_access_block          (deny)  an aws_s3_bucket_public_access_block (or
#                                           aws_s3_account_public_access_block) leaves any of
#                                           block_public_acls, block_public_policy,
#                                           ignore_public_acls, restrict_public_buckets not
#                                           true (an unset flag defaults to false in AWS).
#   s3.public_access_block_missing  (warn)  a created aws_s3_bucket has no
#                                           aws_s3_bucket_public_access_block in the plan.
#   s3.public_policy                (deny)  an aws_s3_bucket_policy allows any principal
#                                           ("Principal": "*" or "AWS": "*").
#   s3.public_policy_conditional    (warn)  as above, but the statement has a Condition (e.g.
#                                           aws:SourceVpce), which may limit the exposure.
#
# A public access block covers a bucket when its `bucket` argument references the bucket's
# address ("${aws_s3_bucket.logs.id}") or equals its literal name, or when it references no
# bucket of this plan at all (the binding cannot be seen, so it is given the benefit of the
# doubt). A bucket policy that is valid JSON is checked statement by statement (only Allow
# statements count, so the common Deny-insecure-transport statement with "Principal": "*" is
# fine); any other policy string (e.g. "${jsonencode(...)}") is searched for the wildcard
# principal patterns after removing whitespace.
package opsdeck.rules.s3

deny contains {"rule": "s3.public_acl", "reason": reason} if {
	some r in _live
	r.type in {"aws_s3_bucket_acl", "aws_s3_bucket"}
	acl := _attrs(r).acl
	is_string(acl)
	acl in _public_acls
	reason := sprintf("%s sets the canned ACL %s, which makes the bucket public", [_addr(r), acl])
}

deny contains {"rule": "s3.public_acl", "reason": reason} if {
	some r in _live
	r.type == "aws_s3_bucket_acl"
	some policy in _blocks(object.get(_attrs(r), "access_control_policy", null))
	is_object(policy)
	some grant in _blocks(object.get(policy, "grant", null))
	is_object(grant)
	some grantee in _blocks(object.get(grant, "grantee", null))
	is_object(grantee)
	grantee.uri in _public_groups
	reason := sprintf("%s grants %v to %s, which makes the bucket public", [_addr(r), object.get(grant, "permission", "access"), grantee.uri])
}

deny contains {"rule": "s3.public_access_block", "reason": reason} if {
	some r in _live
	r.type in {"aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"}
	off := {flag | some flag in _pab_flags; not _true(object.get(_attrs(r), flag, false))}
	count(off) > 0
	reason := sprintf("%s does not enable %s (all four public access block settings must be true)", [_addr(r), _join(off)])
}

warn contains {"rule": "s3.public_access_block_missing", "reason": reason} if {
	some b in _live
	b.type == "aws_s3_bucket"
	not _covered(b, "aws_s3_bucket_public_access_block")
	reason := sprintf("%s is created without an aws_s3_bucket_public_access_block for it in this plan", [_addr(b)])
}

deny contains {"rule": "s3.public_policy", "reason": reason} if {
	some r in _live
	r.type == "aws_s3_bucket_policy"
	some stmt in _statements(_attrs(r).policy)
	_public_allow(stmt)
	not _has_condition(stmt)
	reason := sprintf("%s allows any principal (\"*\") to %v", [_addr(r), _actions(stmt)])
}

deny contains {"rule": "s3.public_policy", "reason": reason} if {
	some r in _live
	r.type == "aws_s3_bucket_policy"
	policy := _attrs(r).policy
	is_string(policy)
	not json.is_valid(policy)
	compact := _strip_space(policy)
	some pattern in _wildcard_patterns
	contains(compact, pattern)
	reason := sprintf("%s has a policy that grants access to any principal (%s)", [_addr(r), pattern])
}

warn contains {"rule": "s3.public_policy_conditional", "reason": reason} if {
	some r in _live
	r.type == "aws_s3_bucket_policy"
	some stmt in _statements(_attrs(r).policy)
	_public_allow(stmt)
	_has_condition(stmt)
	reason := sprintf("%s allows any principal (\"*\") to %v, limited only by a Condition; check that it is not public", [_addr(r), _actions(stmt)])
}

info contains r if {
	some r in set()
}

_public_acls := {"public-read", "public-read-write", "authenticated-read"}

_public_groups := {
	"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}

_pab_flags := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

_wildcard_patterns := [
	"\"Principal\":\"*\"",
	"\"AWS\":\"*\"",
	"\"AWS\":[\"*\"]",
	"Principal=\"*\"",
	"AWS=\"*\"",
	"AWS=[\"*\"]",
]

# Policy statements of a JSON policy given as a string or as an already decoded object.
_statements(policy) := _stmt_list(json.unmarshal(policy)) if {
	is_string(policy)
	json.is_valid(policy)
} else := _stmt_list(policy) if {
	is_object(policy)
} else := []

_stmt_list(doc) := [s | some s in _blocks(doc.Statement); is_object(s)] if is_object(doc) else := []

_public_allow(stmt) if {
	stmt.Effect == "Allow"
	_wildcard_principal(stmt.Principal)
}

_wildcard_principal(p) if p == "*"

_wildcard_principal(p) if p.AWS == "*"

_wildcard_principal(p) if {
	is_array(p.AWS)
	"*" in p.AWS
}

_has_condition(stmt) if {
	is_object(stmt.Condition)
	count(stmt.Condition) > 0
}

_actions(stmt) := object.get(stmt, "Action", "any action")

_strip_space(s) := replace(replace(replace(replace(s, " ", ""), "\n", ""), "\t", ""), "\r", "")

# --- bucket companion matching (also in encryption.rego) ---

_covered(bucket, companion_type) if {
	some c in _live
	c.type == companion_type
	_refers_to(c, bucket)
}

_covered(bucket, companion_type) if {
	some c in _live
	c.type == companion_type
	not _refers_to_any_bucket(c)
}

_refers_to(c, bucket) if {
	ref := _attrs(c).bucket
	is_string(ref)
	is_string(bucket.address)
	some sep in [".", "["]
	contains(ref, concat("", [bucket.address, sep]))
}

_refers_to(c, bucket) if {
	ref := _attrs(c).bucket
	is_string(ref)
	ref == _attrs(bucket).bucket
}

_refers_to_any_bucket(c) if {
	some b in _live
	b.type == "aws_s3_bucket"
	_refers_to(c, b)
}

# --- helpers ---

_resources := [r | some r in input.resources; is_object(r)] if {
	is_array(input.resources)
} else := []

# Managed resources that still exist after the plan (create, and any future update/replace).
_live := [r |
	some r in _resources
	object.get(r, "mode", "managed") == "managed"
	object.get(r, "change", "create") != "delete"
]

_attrs(r) := r.attributes if is_object(r.attributes) else := {}

_addr(r) := r.address if is_string(r.address) else := sprintf("%v.%v", [object.get(r, "type", "?"), object.get(r, "name", "?")])

_true(v) if v == true

_true(v) if v == "true"

_blocks(x) := x if is_array(x) else := [x] if is_object(x) else := []

_join(xs) := concat(", ", sort([sprintf("%v", [x]) | some x in xs]))

# Encryption-at-rest gate.
#
#   encryption.s3   (deny)  a created aws_s3_bucket has no
#                           aws_s3_bucket_server_side_encryption_configuration for it in the
#                           plan (an inline server_side_encryption_configuration block on the
#                           bucket also counts).
#   encryption.ebs  (deny)  an aws_ebs_volume without encrypted = true; an aws_instance whose
#                           root_block_device (object or list of objects) is missing or does
#                           not have encrypted = true, or with an ebs_block_device that does
#                           not have encrypted = true.
#   encryption.rds  (deny)  an aws_db_instance or aws_rds_cluster without
#                           storage_encrypted = true.
#
# "true" means the JSON boolean true or the string "true". A Terraform expression
# ("${var.encrypted}") cannot be verified and is denied. A server-side encryption
# configuration is matched to buckets the same way as public access blocks in s3.rego: it
# covers the bucket it references by address or literal name, and one that references no
# bucket of this plan covers every bucket.
package opsdeck.rules.encryption

deny contains {"rule": "encryption.s3", "reason": reason} if {
	some b in _live
	b.type == "aws_s3_bucket"
	not _inline_sse(b)
	not _covered(b, "aws_s3_bucket_server_side_encryption_configuration")
	reason := sprintf("%s is created without an aws_s3_bucket_server_side_encryption_configuration for it in this plan", [_addr(b)])
}

deny contains {"rule": "encryption.ebs", "reason": reason} if {
	some r in _live
	r.type == "aws_ebs_volume"
	value := object.get(_attrs(r), "encrypted", null)
	not _true(value)
	reason := sprintf("%s is not encrypted (encrypted = %s)", [_addr(r), _show(value)])
}

deny contains {"rule": "encryption.ebs", "reason": reason} if {
	some r in _live
	r.type == "aws_instance"
	count(_blocks(object.get(_attrs(r), "root_block_device", null))) == 0
	reason := sprintf("%s has no root_block_device with encrypted = true, so its root volume is not encrypted", [_addr(r)])
}

deny contains {"rule": "encryption.ebs", "reason": reason} if {
	some r in _live
	r.type == "aws_instance"
	some dev in _blocks(object.get(_attrs(r), "root_block_device", null))
	value := _encrypted_of(dev)
	not _true(value)
	reason := sprintf("%s root_block_device is not encrypted (encrypted = %s)", [_addr(r), _show(value)])
}

deny contains {"rule": "encryption.ebs", "reason": reason} if {
	some r in _live
	r.type == "aws_instance"
	some dev in _blocks(object.get(_attrs(r), "ebs_block_device", null))
	value := _encrypted_of(dev)
	not _true(value)
	reason := sprintf("%s ebs_block_device %v is not encrypted (encrypted = %s)", [_addr(r), _device_name(dev), _show(value)])
}

deny contains {"rule": "encryption.rds", "reason": reason} if {
	some r in _live
	r.type in {"aws_db_instance", "aws_rds_cluster"}
	value := object.get(_attrs(r), "storage_encrypted", null)
	not _true(value)
	reason := sprintf("%s does not have storage_encrypted = true (storage_encrypted = %s)", [_addr(r), _show(value)])
}

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

_inline_sse(b) if {
	cfg := object.get(_attrs(b), "server_side_encryption_configuration", null)
	count(_blocks(cfg)) > 0
}

_encrypted_of(dev) := object.get(dev, "encrypted", null) if is_object(dev) else := null

_device_name(dev) := object.get(dev, "device_name", "(unnamed)") if is_object(dev) else := "(unnamed)"

_show(v) := "unset" if v == null else := sprintf("%v", [v])

# --- bucket companion matching (same as s3.rego) ---

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

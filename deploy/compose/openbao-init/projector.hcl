# service policy: projector
# orphan sweep: versions() lists projects, names and values and reads metadata; destroy() deletes
# a per-version path's metadata (the value with it), or destroys versions of the earlier one-path layout
path "secret/metadata/pipeline-secrets/*" { capabilities = ["read", "list", "delete"] }
path "secret/destroy/pipeline-secrets/*"  { capabilities = ["update"] }
# readiness: the value store's sentinel (OpenBao restarted empty)
path "secret/data/pipeline-secrets/_pipeline-secrets-sentinel" { capabilities = ["create", "update", "read"] }
path "auth/token/lookup-self"             { capabilities = ["read"] }
# policy-target.ts: listPolicies / read|write|deletePolicy
path "sys/policies/acl"                   { capabilities = ["list"] }
path "sys/policies/acl/ps-ci-*"           { capabilities = ["create", "update", "read", "delete"] }
# prepare(): GET sys/auth; enable the mount only when missing (enabling needs sudo); isPrepared() reads the config
path "sys/auth"                           { capabilities = ["read"] }
path "sys/auth/jwt-ci"                    { capabilities = ["create", "update", "sudo"] }
path "auth/jwt-ci/config"                 { capabilities = ["create", "update", "read"] }
# listRoles / read|write|deleteRole: a role may carry exactly one ps-ci-* policy, no default policy,
# and only the fields the renderer sets (no `policies` alias, no token_period, no bound CIDRs, ...)
path "auth/jwt-ci/role"                   { capabilities = ["list"] }
# the mount is the service's own: a role of any other name is drift, deleted by the reconciler (never written)
path "auth/jwt-ci/role/*"                 { capabilities = ["delete"] }
path "auth/jwt-ci/role/ps-ci-*" {
  capabilities = ["create", "update", "read", "delete"]
  allowed_parameters = {
    "role_type"               = ["jwt"]
    "user_claim"              = ["sub"]
    "bound_audiences"         = []
    "bound_claims_type"       = ["glob"]
    "bound_claims"            = []
    "claim_mappings"          = []
    "token_policies"          = ["ps-ci-*"]
    "token_ttl"               = []
    "token_max_ttl"           = []
    "token_no_default_policy" = [true]
    "token_type"              = ["service"]
  }
  denied_parameters = {
    "token_policies" = ["*,*"]
  }
}

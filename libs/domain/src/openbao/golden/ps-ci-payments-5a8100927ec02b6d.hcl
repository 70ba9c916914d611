# Rendered by pipeline-secrets from the event store. Do not edit: the projector rewrites or removes it.
# CI jobs with project_id = payments, environment matches production, ref matches main, protected refs only.
# Each value version is its own KV path; a secret grants the values written under this scope
# and its current value, never a value written while the secret had another scope.

path "secret/data/pipeline-secrets/payments/DB_PASSWORD/5a8100927ec02b6d-*" {
  capabilities = ["read"]
}

path "secret/data/pipeline-secrets/payments/STRIPE_KEY/5a8100927ec02b6d-*" {
  capabilities = ["read"]
}
path "secret/data/pipeline-secrets/payments/STRIPE_KEY/1a4a402b6210106e-00000000000000aa" {
  capabilities = ["read"]
}

# Lets the job end its own token early.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Rendered by pipeline-secrets from the event store. Do not edit: the projector rewrites or removes it.
# CI jobs with project_id = payments, environment matches staging**, ref any, protected or not.
# Each value version is its own KV path; a secret grants the values written under this scope
# and its current value, never a value written while the secret had another scope.

path "secret/data/pipeline-secrets/payments/STAGING_DB/7984613b35732130-*" {
  capabilities = ["read"]
}

# Lets the job end its own token early.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

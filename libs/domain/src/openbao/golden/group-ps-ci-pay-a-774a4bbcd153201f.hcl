# Rendered by pipeline-secrets from the event store. Do not edit: the projector rewrites or removes it.
# CI jobs with project_id = pay-a, environment matches production, ref any, protected refs only.
# Each value version is its own KV path; a secret grants the values written under this scope
# and its current value, never a value written while the secret had another scope.

# Inherited from group acme/payments, which project pay-a is in or below.

path "secret/data/pipeline-secrets/_groups/acme/payments/CLOUD_KEY/81956db5ef5c097a-*" {
  capabilities = ["read"]
}
path "secret/data/pipeline-secrets/_groups/acme/payments/CLOUD_KEY/c695fc602d920722-00000000000000cc" {
  capabilities = ["read"]
}

path "secret/data/pipeline-secrets/_groups/acme/payments/DEPLOY_KEY/81956db5ef5c097a-*" {
  capabilities = ["read"]
}

# Lets the job end its own token early.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Rendered by pipeline-secrets from the event store. Do not edit: the projector rewrites or removes it.
# CI jobs with project_id = pay-a, environment any, ref any, protected or not.
# Each value version is its own KV path; a secret grants the values written under this scope
# and its current value, never a value written while the secret had another scope.

path "secret/data/pipeline-secrets/pay-a/OWN_SECRET/594ec6ba71163ff4-*" {
  capabilities = ["read"]
}

# Inherited from group acme/payments, which project pay-a is in or below.

path "secret/data/pipeline-secrets/_groups/acme/payments/ORG_TOKEN/c695fc602d920722-*" {
  capabilities = ["read"]
}

path "secret/data/pipeline-secrets/_groups/acme/payments/REGISTRY_TOKEN/c695fc602d920722-*" {
  capabilities = ["read"]
}

# Inherited from group acme, which project pay-a is in or below.

path "secret/data/pipeline-secrets/_groups/acme/ORG_TOKEN/2996f4d00629886a-*" {
  capabilities = ["read"]
}

# Lets the job end its own token early.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Rendered by pipeline-secrets from the event store. Do not edit: the projector rewrites or removes it.
# CI jobs with project_id = payments, environment matches production, ref matches main, protected refs only.

path "secret/data/pipeline-secrets/payments/DB_PASSWORD" {
  capabilities = ["read"]
}

path "secret/data/pipeline-secrets/payments/STRIPE_KEY" {
  capabilities = ["read"]
}

# Lets the job end its own token early.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

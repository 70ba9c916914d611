# service policy: command-api
# openbao-value-store.ts: put() creates a new per-version path (check-and-set 0); get() reads ?version=N.
# No "update": this token cannot overwrite any value that exists.
path "secret/data/pipeline-secrets/*"     { capabilities = ["create", "read"] }
# readiness: the sentinel (written again after OpenBao lost it)
path "secret/data/pipeline-secrets/_pipeline-secrets-sentinel" { capabilities = ["create", "update", "read"] }
# destroy(): after a failed append, on delete (per-version paths: delete their metadata; earlier layout: destroy versions)
path "secret/metadata/pipeline-secrets/*" { capabilities = ["delete"] }
path "secret/destroy/pipeline-secrets/*"  { capabilities = ["update"] }
path "auth/token/lookup-self"             { capabilities = ["read"] }

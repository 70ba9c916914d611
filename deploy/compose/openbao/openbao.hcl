# OpenBao for docker-compose.yml: persistent integrated (raft) storage on a volume (OpenBao 2.x
# has no "file" backend any more), a single node; plain HTTP on the compose network
# (its port is published on 127.0.0.1 only), and the two audit devices the service needs
# (docs/openbao.md): the file the auditor tails, and a second one so that file never blocks OpenBao.
storage "raft" {
  path    = "/openbao/data"
  node_id = "openbao-compose"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr     = "http://openbao:8200"
cluster_addr = "http://openbao:8201"
ui           = false

audit "file" "pipeline-secrets" {
  description = "tailed by the pipeline-secrets auditor (BAO_AUDIT_FILE)"
  options {
    file_path = "/openbao/audit/audit-service.log"
    mode      = "0644"
  }
}

audit "file" "operator" {
  description = "the operator's copy; keeps OpenBao answering if the other file cannot be written"
  options {
    file_path = "/openbao/audit/audit-operator.log"
    mode      = "0600"
  }
}

{{/*
Names, labels and shared pieces of the pod specs.
*/}}

{{/*
The chart name, at most 63 characters (a DNS label).
*/}}
{{- define "pipeline-secrets.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The fully qualified app name, at most 63 characters (some Kubernetes name fields are limited
to that by the DNS specification). If the release name already contains the chart name, it is
used as is.
*/}}
{{- define "pipeline-secrets.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The name of one component's objects: fullname-component, still at most 63 characters (the
fullname part is shortened, never the component suffix).
Usage: include "pipeline-secrets.componentName" (list . "command-api")
*/}}
{{- define "pipeline-secrets.componentName" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $max := sub 62 (len $component) | int -}}
{{- printf "%s-%s" (include "pipeline-secrets.fullname" $root | trunc $max | trimSuffix "-") $component -}}
{{- end -}}

{{/*
Chart label value: name-version.
*/}}
{{- define "pipeline-secrets.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Standard labels of every object.
*/}}
{{- define "pipeline-secrets.labels" -}}
helm.sh/chart: {{ include "pipeline-secrets.chart" . }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "pipeline-secrets.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
{{- end -}}

{{/*
Labels of one component's objects. Usage: include "pipeline-secrets.componentLabels" (list . "projector")
*/}}
{{- define "pipeline-secrets.componentLabels" -}}
{{ include "pipeline-secrets.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/*
Selector labels of one component. A Deployment's selector is immutable, so these never change
across upgrades of a release: never add to them, and they take the chart's own name, not
nameOverride (which only renames objects).
*/}}
{{- define "pipeline-secrets.selectorLabels" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/*
The service account the pods run as.
*/}}
{{- define "pipeline-secrets.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pipeline-secrets.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pipeline-secrets.configMapName" -}}
{{- include "pipeline-secrets.componentName" (list . "config") -}}
{{- end -}}

{{/*
Image tag: image.tag, or the chart's appVersion when it is empty.
*/}}
{{- define "pipeline-secrets.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "pipeline-secrets.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "pipeline-secrets.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/*
Where credential files are mounted (each from an existing Secret, read-only).
*/}}
{{- define "pipeline-secrets.secretsDir" -}}/var/run/secrets/pipeline-secrets{{- end -}}

{{/*
Checks that values cannot express in values.schema.json. Fails the render with a message
naming the value.
*/}}
{{- define "pipeline-secrets.validate" -}}
{{- range $kind := list "user" "ci" -}}
{{- $issuer := index $.Values.auth $kind -}}
{{- $hasJwks := ne $issuer.jwksUrl "" -}}
{{- $hasKey := ne $issuer.publicKey.existingConfigMap "" -}}
{{- if and $hasJwks $hasKey -}}
{{- fail (printf "auth.%s: set only one of jwksUrl and publicKey.existingConfigMap" $kind) -}}
{{- end -}}
{{- if not (or $hasJwks $hasKey) -}}
{{- fail (printf "auth.%s: set jwksUrl or publicKey.existingConfigMap (the issuer's verification key)" $kind) -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.eventStore.type "eventstoredb") (eq .Values.eventStore.existingSecret "") -}}
{{- fail "eventStore.existingSecret: name the Secret holding the EventStoreDB connection string when eventStore.type is eventstoredb" -}}
{{- end -}}
{{- $audit := .Values.openbao.audit -}}
{{- if and $audit.enabled (eq $audit.existingClaim "") (eq $audit.hostPath "") -}}
{{- fail "openbao.audit: set existingClaim (or hostPath) to the volume holding OpenBao's audit file, or set openbao.audit.enabled=false" -}}
{{- end -}}
{{- if and $audit.enabled (ne $audit.existingClaim "") (ne $audit.hostPath "") -}}
{{- fail "openbao.audit: set only one of existingClaim and hostPath" -}}
{{- end -}}
{{- end -}}

{{/*
Where the auditor mounts the volume holding OpenBao's audit file (read-only).
*/}}
{{- define "pipeline-secrets.openbaoAuditDir" -}}/openbao/audit{{- end -}}

{{/*
The Secret and key of an app's OpenBao token: the auditor's own when openbao.audit.token names
one, else the shared openbao.token. Usage: include "pipeline-secrets.openbaoTokenSecret" (list . "auditor")
*/}}
{{- define "pipeline-secrets.openbaoTokenSecret" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
{{- if eq $app "auditor" -}}
{{- default $root.Values.openbao.token.existingSecret $root.Values.openbao.audit.token.existingSecret -}}
{{- else -}}
{{- $root.Values.openbao.token.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "pipeline-secrets.openbaoTokenKey" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
{{- if eq $app "auditor" -}}
{{- default $root.Values.openbao.token.key $root.Values.openbao.audit.token.key -}}
{{- else -}}
{{- $root.Values.openbao.token.key -}}
{{- end -}}
{{- end -}}

{{/*
Hardened pod security context (every pod of the chart).
*/}}
{{- define "pipeline-secrets.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Hardened container security context (every container of the chart). Not configurable on
purpose: the image needs none of what it takes away.
*/}}
{{- define "pipeline-secrets.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Environment, volume mounts and volumes of one app container. The ConfigMap carries every
non-credential setting; credentials come from existing Secrets, as environment variables
(secretKeyRef) or as files (BAO_TOKEN_FILE, AUDIT_SIGNING_KEY_FILE).
Usage: include "pipeline-secrets.appEnv" (list . "command-api")
*/}}
{{- define "pipeline-secrets.appEnv" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
{{- $dir := include "pipeline-secrets.secretsDir" $root -}}
- name: APPS
  value: {{ $app | quote }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.database.existingSecret | quote }}
      key: {{ $root.Values.database.urlKey | quote }}
{{- if eq $root.Values.eventStore.type "eventstoredb" }}
- name: EVENTSTORE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.eventStore.existingSecret | quote }}
      key: {{ $root.Values.eventStore.urlKey | quote }}
{{- end }}
{{- if or (eq $app "command-api") (eq $app "projector") (eq $app "auditor") }}
- name: BAO_TOKEN_FILE
  value: {{ printf "%s/openbao/%s" $dir (include "pipeline-secrets.openbaoTokenKey" (list $root $app)) | quote }}
{{- end }}
{{- if or (eq $app "command-api") (eq $app "auditor") (eq $app "projector") }}
- name: AUDIT_SIGNING_KEY_FILE
  value: {{ printf "%s/audit-signing/%s" $dir $root.Values.auditSigningKey.key | quote }}
{{- end }}
{{- if and (eq $app "command-api") $root.Values.masterKey.existingSecret }}
- name: MASTER_KEY_FILE
  value: {{ printf "%s/master-key/%s" $dir $root.Values.masterKey.key | quote }}
{{- end }}
{{- if and (eq $app "command-api") $root.Values.auth.user.publicKey.existingConfigMap }}
- name: AUTH_USER_PUBLIC_KEY_FILE
  value: {{ printf "%s/user-issuer/%s" $dir $root.Values.auth.user.publicKey.key | quote }}
{{- end }}
{{- if and (or (eq $app "command-api") (eq $app "projector") (eq $app "auditor")) $root.Values.auth.ci.publicKey.existingConfigMap }}
- name: AUTH_CI_PUBLIC_KEY_FILE
  value: {{ printf "%s/ci-issuer/%s" $dir $root.Values.auth.ci.publicKey.key | quote }}
{{- end }}
{{- end -}}

{{- define "pipeline-secrets.appVolumeMounts" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
{{- $dir := include "pipeline-secrets.secretsDir" $root -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/pipeline-secrets
{{- if or (eq $app "command-api") (eq $app "projector") (eq $app "auditor") }}
- name: openbao-token
  mountPath: {{ printf "%s/openbao" $dir }}
  readOnly: true
{{- end }}
{{- if and (eq $app "auditor") $root.Values.openbao.audit.enabled }}
- name: openbao-audit
  mountPath: {{ include "pipeline-secrets.openbaoAuditDir" $root }}
  readOnly: true
{{- end }}
{{- if or (eq $app "command-api") (eq $app "auditor") (eq $app "projector") }}
- name: audit-signing-key
  mountPath: {{ printf "%s/audit-signing" $dir }}
  readOnly: true
{{- end }}
{{- if and (eq $app "command-api") $root.Values.masterKey.existingSecret }}
- name: master-key
  mountPath: {{ printf "%s/master-key" $dir }}
  readOnly: true
{{- end }}
{{- if and (eq $app "command-api") $root.Values.auth.user.publicKey.existingConfigMap }}
- name: user-issuer-key
  mountPath: {{ printf "%s/user-issuer" $dir }}
  readOnly: true
{{- end }}
{{- if and (or (eq $app "command-api") (eq $app "projector") (eq $app "auditor")) $root.Values.auth.ci.publicKey.existingConfigMap }}
- name: ci-issuer-key
  mountPath: {{ printf "%s/ci-issuer" $dir }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "pipeline-secrets.appVolumes" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
{{- $component := index $root.Values (include "pipeline-secrets.valuesKey" $app) -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $root.Values.tmpSizeLimit }}
- name: data
  emptyDir:
    sizeLimit: {{ $component.dataSizeLimit }}
{{- if or (eq $app "command-api") (eq $app "projector") (eq $app "auditor") }}
{{- $tokenKey := include "pipeline-secrets.openbaoTokenKey" (list $root $app) }}
- name: openbao-token
  secret:
    secretName: {{ include "pipeline-secrets.openbaoTokenSecret" (list $root $app) | quote }}
    defaultMode: 0400
    items:
      - key: {{ $tokenKey | quote }}
        path: {{ $tokenKey | quote }}
{{- end }}
{{- if and (eq $app "auditor") $root.Values.openbao.audit.enabled }}
{{- $audit := $root.Values.openbao.audit }}
- name: openbao-audit
{{- if $audit.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ $audit.existingClaim | quote }}
    readOnly: true
{{- else }}
  hostPath:
    path: {{ $audit.hostPath | quote }}
    type: Directory
{{- end }}
{{- end }}
{{- if or (eq $app "command-api") (eq $app "auditor") (eq $app "projector") }}
- name: audit-signing-key
  secret:
    secretName: {{ $root.Values.auditSigningKey.existingSecret | quote }}
    defaultMode: 0400
    items:
      - key: {{ $root.Values.auditSigningKey.key | quote }}
        path: {{ $root.Values.auditSigningKey.key | quote }}
{{- end }}
{{- if and (eq $app "command-api") $root.Values.masterKey.existingSecret }}
- name: master-key
  secret:
    secretName: {{ $root.Values.masterKey.existingSecret | quote }}
    defaultMode: 0400
    items:
      - key: {{ $root.Values.masterKey.key | quote }}
        path: {{ $root.Values.masterKey.key | quote }}
{{- end }}
{{- if and (eq $app "command-api") $root.Values.auth.user.publicKey.existingConfigMap }}
- name: user-issuer-key
  configMap:
    name: {{ $root.Values.auth.user.publicKey.existingConfigMap | quote }}
    items:
      - key: {{ $root.Values.auth.user.publicKey.key | quote }}
        path: {{ $root.Values.auth.user.publicKey.key | quote }}
{{- end }}
{{- if and (or (eq $app "command-api") (eq $app "projector") (eq $app "auditor")) $root.Values.auth.ci.publicKey.existingConfigMap }}
- name: ci-issuer-key
  configMap:
    name: {{ $root.Values.auth.ci.publicKey.existingConfigMap | quote }}
    items:
      - key: {{ $root.Values.auth.ci.publicKey.key | quote }}
        path: {{ $root.Values.auth.ci.publicKey.key | quote }}
{{- end }}
{{- end -}}

{{/*
values key of a component: command-api -> commandApi.
*/}}
{{- define "pipeline-secrets.valuesKey" -}}
{{- . | camelcase | untitle -}}
{{- end -}}

{{/*
HTTP probes: liveness on /healthz (the process answers), readiness on /readyz (its
dependencies answer), and a startup probe so slow first connections do not count as failures.
*/}}
{{- define "pipeline-secrets.probes" -}}
{{- $p := index . 1 -}}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 5
  timeoutSeconds: {{ $p.timeoutSeconds }}
  failureThreshold: {{ $p.startupFailureThreshold }}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: {{ $p.periodSeconds }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
  failureThreshold: {{ $p.livenessFailureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: {{ $p.periodSeconds }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
  failureThreshold: {{ $p.readinessFailureThreshold }}
{{- end -}}

{{/*
The ConfigMap's data: every non-credential setting (names from the settings catalog,
libs/infra/src/config/settings-catalog.ts). Optional settings left empty are left out.
*/}}
{{- define "pipeline-secrets.configData" -}}
PROFILE: production
HOST: 0.0.0.0
PORT: {{ .Values.config.port | quote }}
DATA_DIR: /var/lib/pipeline-secrets
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
PG_CONNECT_TIMEOUT_MS: {{ .Values.database.connectTimeoutMs | int | quote }}
PG_STATEMENT_TIMEOUT_MS: {{ .Values.database.statementTimeoutMs | int | quote }}
PG_QUERY_TIMEOUT_MS: {{ .Values.database.queryTimeoutMs | int | quote }}
PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: {{ .Values.database.idleInTransactionTimeoutMs | int | quote }}
KAFKA_BROKERS: {{ .Values.kafka.brokers | quote }}
KAFKA_CLIENT_ID: {{ .Values.kafka.clientId | quote }}
AUDIT_TOPIC: {{ .Values.kafka.auditTopic | quote }}
AUDIT_CHECKPOINT_TOPIC: {{ .Values.kafka.checkpointTopic | quote }}
AUDIT_TOPIC_PARTITIONS: {{ .Values.kafka.topicPartitions | quote }}
AUDIT_TOPIC_REPLICATION: {{ .Values.kafka.topicReplication | int | quote }}
AUDIT_LOG_ORIGIN: {{ .Values.audit.logOrigin | quote }}
AUDIT_CHECKPOINT_EVERY_RECORDS: {{ .Values.audit.checkpointEveryRecords | int | quote }}
AUDIT_CHECKPOINT_SECONDS: {{ .Values.audit.checkpointSeconds | int | quote }}
GRANT_EXPIRY_SCAN_SECONDS: {{ .Values.audit.grantExpiryScanSeconds | int | quote }}
ACCESS_REQUEST_TTL_SECONDS: {{ .Values.accessControl.accessRequestTtlSeconds | int | quote }}
ACCESS_REQUEST_MAX_PENDING_PER_REQUESTER: {{ .Values.accessControl.accessRequestMaxPendingPerRequester | int | quote }}
ACCESS_REQUEST_MAX_PENDING_PER_PROJECT: {{ .Values.accessControl.accessRequestMaxPendingPerProject | int | quote }}
DENIAL_RATE_PER_MINUTE: {{ .Values.accessControl.denialRatePerMinute | int | quote }}
DENIAL_SUMMARY_WINDOW_SECONDS: {{ .Values.accessControl.denialSummaryWindowSeconds | int | quote }}
EXPOSURE_REPORTS_PER_MINUTE: {{ .Values.accessControl.exposureReportsPerMinute | default 10 | int | quote }}
GRAPHQL_JIT: {{ .Values.graphql.jit | quote }}
CONSOLE_SESSION_IDLE_SECONDS: {{ (.Values.console | default dict).sessionIdleSeconds | default 1800 | int | quote }}
CONSOLE_SESSION_MAX_SECONDS: {{ (.Values.console | default dict).sessionMaxSeconds | default 28800 | int | quote }}
BAO_ADDR: {{ .Values.openbao.address | quote }}
BAO_KV_MOUNT: {{ .Values.openbao.kvMount | quote }}
BAO_KV_PREFIX: {{ .Values.openbao.kvPrefix | quote }}
BAO_JWT_MOUNT: {{ .Values.openbao.jwtMount | quote }}
BAO_CI_TOKEN_TTL_SECONDS: {{ .Values.openbao.ciTokenTtlSeconds | int | quote }}
{{- if .Values.openbao.audit.enabled }}
BAO_AUDIT_FILE: {{ printf "%s/%s" (include "pipeline-secrets.openbaoAuditDir" .) .Values.openbao.audit.fileName | quote }}
{{- end }}
BAO_AUDIT_START: {{ .Values.openbao.audit.start | quote }}
VALUE_SWEEP_GRACE_SECONDS: {{ .Values.openbao.valueSweepGraceSeconds | int | quote }}
AUTH_AUDIENCE: {{ .Values.auth.audience | quote }}
AUTH_ALGORITHMS: {{ .Values.auth.algorithms | quote }}
AUTH_CLOCK_SKEW_SECONDS: {{ .Values.auth.clockSkewSeconds | quote }}
AUTH_USER_ISSUER: {{ .Values.auth.user.issuer | quote }}
{{- if .Values.auth.user.jwksUrl }}
AUTH_USER_JWKS_URL: {{ .Values.auth.user.jwksUrl | quote }}
{{- end }}
AUTH_CI_ISSUER: {{ .Values.auth.ci.issuer | quote }}
{{- if .Values.auth.ci.jwksUrl }}
AUTH_CI_JWKS_URL: {{ .Values.auth.ci.jwksUrl | quote }}
{{- end }}
DEV_ISSUER: "0"
{{- end -}}

{{/*
Which ConfigMap settings each app reads (the catalog's usedBy). An app gets only these, so
e.g. the projector is never handed the user issuer it has no key for.
*/}}
{{- define "pipeline-secrets.configKeysOf" -}}
{{- $common := list "PROFILE" "HOST" "PORT" "DATA_DIR" "LOG_LEVEL" "PG_CONNECT_TIMEOUT_MS" "PG_STATEMENT_TIMEOUT_MS" "PG_QUERY_TIMEOUT_MS" "PG_IDLE_IN_TRANSACTION_TIMEOUT_MS" -}}
{{- if eq . "command-api" -}}
{{- concat $common (list "BAO_ADDR" "BAO_KV_MOUNT" "BAO_KV_PREFIX" "BAO_JWT_MOUNT" "AUDIT_LOG_ORIGIN" "AUTH_AUDIENCE" "AUTH_ALGORITHMS" "AUTH_CLOCK_SKEW_SECONDS" "GRANT_EXPIRY_SCAN_SECONDS" "ACCESS_REQUEST_TTL_SECONDS" "ACCESS_REQUEST_MAX_PENDING_PER_REQUESTER" "ACCESS_REQUEST_MAX_PENDING_PER_PROJECT" "DENIAL_RATE_PER_MINUTE" "DENIAL_SUMMARY_WINDOW_SECONDS" "EXPOSURE_REPORTS_PER_MINUTE" "GRAPHQL_JIT" "CONSOLE_SESSION_IDLE_SECONDS" "CONSOLE_SESSION_MAX_SECONDS" "AUTH_USER_ISSUER" "AUTH_USER_JWKS_URL" "AUTH_CI_ISSUER" "AUTH_CI_JWKS_URL" "DEV_ISSUER") | join " " -}}
{{- else if eq . "projector" -}}
{{- concat $common (list "BAO_ADDR" "BAO_KV_MOUNT" "BAO_KV_PREFIX" "BAO_JWT_MOUNT" "BAO_CI_TOKEN_TTL_SECONDS" "VALUE_SWEEP_GRACE_SECONDS" "AUTH_AUDIENCE" "AUTH_CI_ISSUER" "AUTH_CI_JWKS_URL") | join " " -}}
{{- else if eq . "auditor" -}}
{{- concat $common (list "KAFKA_BROKERS" "KAFKA_CLIENT_ID" "AUDIT_TOPIC" "AUDIT_CHECKPOINT_TOPIC" "AUDIT_TOPIC_PARTITIONS" "AUDIT_TOPIC_REPLICATION" "AUDIT_LOG_ORIGIN" "AUDIT_CHECKPOINT_EVERY_RECORDS" "AUDIT_CHECKPOINT_SECONDS" "BAO_ADDR" "BAO_KV_MOUNT" "BAO_KV_PREFIX" "BAO_JWT_MOUNT" "BAO_CI_TOKEN_TTL_SECONDS" "BAO_AUDIT_FILE" "BAO_AUDIT_START" "AUTH_AUDIENCE" "AUTH_CI_ISSUER" "AUTH_CI_JWKS_URL") | join " " -}}
{{- end -}}
{{- end -}}

{{/*
env entries taking one app's settings from the ConfigMap.
*/}}
{{- define "pipeline-secrets.configEnv" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
{{- $data := include "pipeline-secrets.configData" $root | fromYaml -}}
{{- range $key := splitList " " (include "pipeline-secrets.configKeysOf" $app) }}
{{- if hasKey $data $key }}
- name: {{ $key }}
  valueFrom:
    configMapKeyRef:
      name: {{ include "pipeline-secrets.configMapName" $root }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The pod template of one app. Usage: include "pipeline-secrets.podTemplate" (list . "auditor")
*/}}
{{- define "pipeline-secrets.podTemplate" -}}
{{- $root := index . 0 -}}
{{- $app := index . 1 -}}
{{- $v := index $root.Values (include "pipeline-secrets.valuesKey" $app) -}}
metadata:
  labels:
    {{- include "pipeline-secrets.componentLabels" (list $root $app) | nindent 4 }}
  annotations:
    checksum/config: {{ include "pipeline-secrets.configData" $root | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "pipeline-secrets.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . | quote }}
    {{- end }}
  {{- end }}
  securityContext:
    {{- include "pipeline-secrets.podSecurityContext" $root | nindent 4 }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  containers:
    - name: {{ $app }}
      image: {{ include "pipeline-secrets.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: ["node", "dist/apps/{{ $app }}/src/main.js"]
      ports:
        - name: http
          containerPort: {{ $root.Values.config.port }}
          protocol: TCP
      env:
        {{- include "pipeline-secrets.configEnv" (list $root $app) | trim | nindent 8 }}
        {{- include "pipeline-secrets.appEnv" (list $root $app) | trim | nindent 8 }}
      {{- include "pipeline-secrets.probes" (list $root $v.probes) | nindent 6 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- include "pipeline-secrets.containerSecurityContext" $root | nindent 8 }}
      volumeMounts:
        {{- include "pipeline-secrets.appVolumeMounts" (list $root $app) | nindent 8 }}
  volumes:
    {{- include "pipeline-secrets.appVolumes" (list $root $app) | nindent 4 }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range $v.topologySpreadConstraints }}
    {{- $c := deepCopy . }}
    {{- if not (hasKey $c "labelSelector") }}
    {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "pipeline-secrets.selectorLabels" (list $root $app) | fromYaml)) }}
    {{- end }}
    {{- toYaml (list $c) | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end -}}

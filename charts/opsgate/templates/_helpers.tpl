{{/*
Names are fixed, not derived from the release name: the admission policies in crds/ name the
operator's ServiceAccount (opsgate-system:opsgate-operator), the operator's defaults name the
executor's (opsgate-executor), and the API is cluster-wide, so one release per cluster.
*/}}

{{- define "opsgate.labels" -}}
app.kubernetes.io/name: opsgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: opsgate
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "opsgate.selector" -}}
app.kubernetes.io/name: opsgate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "opsgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The executor namespace must be opsgate-system: crds/admission-policies.yaml names it. */}}
{{- define "opsgate.namespace" -}}
{{- if ne .Release.Namespace "opsgate-system" -}}
{{- fail (printf "install OpsGate into the namespace opsgate-system (helm install -n opsgate-system), not %q: the admission policies let only opsgate-system:opsgate-operator create Approvals" .Release.Namespace) -}}
{{- end -}}
{{- .Release.Namespace -}}
{{- end -}}

{{/* The policies ConfigMap's data: the shipped files, then values' replacements and additions. */}}
{{- define "opsgate.policies" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/policies/*.yaml" -}}
{{- $_ := set $files (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- range $name, $content := .Values.policies.files -}}
{{- $_ := set $files $name $content -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{- define "opsgate.ollamaUrl" -}}
http://ollama.{{ .Values.ollama.namespace }}.svc:{{ .Values.ollama.port }}
{{- end -}}

{{- define "opsgate.qdrantUrl" -}}
{{- if eq .Values.qdrant.mode "external" -}}
{{ required "qdrant.url is required when qdrant.mode is external" .Values.qdrant.url }}
{{- else if eq .Values.qdrant.mode "statefulset" -}}
http://opsgate-qdrant.{{ .Release.Namespace }}.svc:6333
{{- end -}}
{{- end -}}

{{/* The audit store URL, from a Secret: never a value in values.yaml or in the pod spec. */}}
{{- define "opsgate.databaseEnv" -}}
{{- if eq .Values.postgresql.mode "external" }}
- name: OPSGATE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "postgresql.existingSecret.name is required when postgresql.mode is external" .Values.postgresql.existingSecret.name }}
      key: {{ .Values.postgresql.existingSecret.key }}
{{- else if eq .Values.postgresql.mode "statefulset" }}
- name: OPSGATE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: opsgate-postgresql
      key: DATABASE_URL
{{- end }}
{{- end -}}

{{/* `K=V,K2=V2` from a map, the format of OPSGATE_EXECUTOR_NODE_SELECTOR and OPSGATE_EXECUTOR_ENV. */}}
{{- define "opsgate.pairs" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key (toString $value)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* Names and labels shared by the templates. */}}
{{- define "dosh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dosh.fullname" -}}
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

{{- define "dosh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dosh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: doshd
{{- end -}}

{{- define "dosh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dosh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dosh
{{- end -}}

{{- define "dosh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dosh.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Where doshd serves /metrics, /healthz and /readyz (metrics.bind; "auto": the pod's IP, or loopback with hostNetwork).
They name users and their activity, and /readyz shows policy errors: never every address of a host.
*/}}
{{- define "dosh.metricsBind" -}}
{{- $b := .Values.metrics.bind | default "auto" -}}
{{- if eq $b "auto" -}}{{ ternary "loopback" "podIP" .Values.hostNetwork }}{{- else -}}{{ $b }}{{- end -}}
{{- end -}}

{{- define "dosh.metricsAddress" -}}
{{- $b := include "dosh.metricsBind" . -}}
{{- if and (not .Values.hostNetwork) (or (eq $b "loopback") (eq $b "hostIP")) -}}
{{- fail (printf "metrics.bind=%s needs hostNetwork: true (%s)" $b (ternary "the kubelet's probes cannot reach the pod's own loopback" "the node's address is not one of the pod's" (eq $b "loopback"))) -}}
{{- end -}}
{{- if eq $b "loopback" -}}127.0.0.1{{- else if eq $b "hostIP" -}}[$(HOST_IP)]{{- else -}}[$(POD_IP)]{{- end -}}:{{ .Values.metrics.port }}
{{- end -}}

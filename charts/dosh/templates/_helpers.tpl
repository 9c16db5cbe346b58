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

{{/* The image of doshd, which the test and the uninstall hook use too (its node runs their scripts). */}}
{{- define "dosh.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* KUBERNETES_SERVICE_HOST and _PORT for a container that talks to the API server, when kubernetesApi says where. */}}
{{- define "dosh.apiEnv" -}}
{{- with .Values.kubernetesApi }}
{{- if or .host .port }}
{{- if not (and .host .port) }}{{ fail "kubernetesApi: set both host and port, or neither" }}{{ end }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ .host | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ .port | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Where the chart's own pods (its test, its uninstall hook) run: beside doshd, on a login node, with the same network
and image pull secrets, so that they reach the API server the way doshd does (see kubernetesApi).
*/}}
{{- define "dosh.helperPodPlacement" -}}
hostNetwork: {{ .Values.hostNetwork }}
{{- if .Values.hostNetwork }}
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
nodeSelector:
  {{- toYaml .Values.nodeSelector | nindent 2 }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The chart's own small pods run unprivileged, as nobody, on a read-only root. */}}
{{- define "dosh.helperContainerSecurity" -}}
runAsNonRoot: true
runAsUser: 65534
runAsGroup: 65534
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The annotations of a hook resource: (dict "hook" "test" "weight" "-5"). Deleted once its hooks succeeded. */}}
{{- define "dosh.hookAnnotations" -}}
helm.sh/hook: {{ .hook }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}

{{/* The label selector of doshd's pods as a string (k=v,k=v), for the test and the uninstall hook. */}}
{{- define "dosh.selectorString" -}}
{{- $pairs := list -}}
{{- range $k, $v := (include "dosh.selectorLabels" . | fromYaml) -}}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The labels of the chart's own hook objects: (dict "ctx" . "component" "test"); never doshd's selector. */}}
{{- define "dosh.hookLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "dosh.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: dosh
{{- end -}}

{{/*
Names and labels shared by the templates.
*/}}

{{/* The chart name, or nameOverride (63 characters at most: a DNS label). */}}
{{- define "kubesat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, or <release>-<name> (just
<release> when it already contains the name).
*/}}
{{- define "kubesat.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the cluster-scoped objects (ClusterRole, ClusterRoleBinding): qualified by the
release namespace, so that releases of the same name in two namespaces do not collide.
*/}}
{{- define "kubesat.clusterName" -}}
{{- printf "%s-%s" (include "kubesat.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "kubesat.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of a release (Deployment selectors are immutable). */}}
{{- define "kubesat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubesat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of the operator pod (Deployment and Service selectors). */}}
{{- define "kubesat.operatorSelectorLabels" -}}
{{ include "kubesat.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of every object: the recommended app.kubernetes.io set plus commonLabels. */}}
{{- define "kubesat.labels" -}}
helm.sh/chart: {{ include "kubesat.chart" . }}
{{ include "kubesat.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubesat
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kubesat.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubesat.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "kubesat.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Checks JSON Schema cannot express: fail with a message naming the values.
*/}}
{{- define "kubesat.validate" -}}
{{- if eq (int .Values.ports.liveness) (int .Values.ports.metrics) }}
{{- fail (printf "ports.liveness and ports.metrics: must differ, both are %v" .Values.ports.liveness) }}
{{- end }}
{{- end }}

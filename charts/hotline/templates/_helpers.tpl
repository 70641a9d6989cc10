{{- define "hotline.labels" -}}
app.kubernetes.io/name: hotline
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
ep=""; [ -n "${ENDPOINT:-}" ] && ep="--endpoint-url $ENDPOINT"
sse=""; [ -z "${ENDPOINT:-}" ] && sse="--sse AES256"
aws $ep s3 cp /backup/snapshot.db "s3://$BUCKET/$PREFIX/$stamp-$NODE.db" $sse
# Retention: keep the newest $KEEP snapshots (names sort by time).
aws $ep s3 ls "s3://$BUCKET/$PREFIX/" | while read -r _d _t _s name; do echo "$name"; done \
  | grep '\.db$' | sort | head -n "-$KEEP" | while read -r old; do
    aws $ep s3 rm "s3://$BUCKET/$PREFIX/$old"
  done

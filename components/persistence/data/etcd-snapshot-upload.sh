# Upload the snapshot the init containers took, keeping the newest $KEEP.
# No pipes: a failing command fails the script under `sh -e` in any POSIX shell
# (dash has no pipefail), so a denied list, delete or upload fails the Job.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
ep=""; [ -n "${ENDPOINT:-}" ] && ep="--endpoint-url $ENDPOINT"
sse=""; [ -z "${ENDPOINT:-}" ] && sse="--sse AES256"
# Prune first, down to KEEP-1: a run whose prune fails uploads nothing, so retries of
# a Job without delete rights never pile snapshots up (at most KEEP objects, always).
aws $ep s3api list-objects-v2 --bucket "$BUCKET" --prefix "$PREFIX/" \
  --query 'Contents[].Key' --output text > /tmp/listing
tr -s '\t ' '\n\n' < /tmp/listing > /tmp/keys
grep '\.db$' /tmp/keys > /tmp/snapshots || [ $? -eq 1 ]
sort /tmp/snapshots > /tmp/sorted
drop=$(( $(wc -l < /tmp/sorted) - KEEP + 1 ))
if [ "$drop" -gt 0 ]; then
  head -n "$drop" /tmp/sorted > /tmp/old
  while read -r key; do
    aws $ep s3 rm "s3://$BUCKET/$key"
  done < /tmp/old
fi
aws $ep s3 cp /backup/snapshot.db "s3://$BUCKET/$PREFIX/$stamp-$NODE.db" $sse

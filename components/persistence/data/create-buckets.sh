for b in $BUCKETS; do
  if aws --endpoint-url "$ENDPOINT" s3api head-bucket --bucket "$b" 2>/dev/null; then
    echo "bucket $b exists"
  else
    aws --endpoint-url "$ENDPOINT" s3api create-bucket --bucket "$b"
  fi
done

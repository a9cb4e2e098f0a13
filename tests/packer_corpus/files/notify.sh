#!/bin/sh
# run by the corpus's shell-local post-processor template (validated only)
echo "image ready: $PACKER_BUILD_NAME"

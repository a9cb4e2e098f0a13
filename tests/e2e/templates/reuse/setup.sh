#!/bin/sh
echo provisioned > /tmp/bakeami-reuse-marker
echo "setup ran"

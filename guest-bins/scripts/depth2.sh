#!./depth1.sh

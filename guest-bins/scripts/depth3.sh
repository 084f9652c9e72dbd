#!./depth2.sh

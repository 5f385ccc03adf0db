#!/bin/sh
# The container's first words: they show in the terminal Build and Run opens, and in its Logs.
echo "Hello from container $(hostname), running as $(id -un) on $(uname -sr)."
echo "It now waits; expand it in the Containers view to see its processes, and stop it there."

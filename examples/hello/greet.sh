#!/bin/sh
echo "Hello from $(hostname), running as $(id -un)."
echo "Type into this terminal: the container reads it."

"""Sessions on other hosts: one multiplexed SSH connection per host, and the remote fleet.

``ssh`` holds the connection (OpenSSH ``ControlMaster`` with a control socket in our runtime
folder); ``fleet`` brings a layout's remote sessions up on their hosts and reads their states back.
"""

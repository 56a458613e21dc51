"""MAVLink multicopter simulator fleet (PX4 SITL and ArduPilot SITL conventions) and exercises."""

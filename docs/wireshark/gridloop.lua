-- Wireshark / tshark dissector for gridloop's frame capture (a run's frames.pcap.gz, see
-- docs/recording.md): link type LINKTYPE_USER0 (147), each packet a small header followed by one
-- frame exactly as it crossed the serial link.
--
--   byte 0      direction: 0 = rx (device -> bench), 1 = tx (bench -> device)
--   byte 1      n = length of the device id (UTF-8), 1..255
--   bytes 2..   device id, then the frame
--
-- A frame whose last two bytes are its CRC-16/MODBUS is handed to Wireshark's own Modbus RTU
-- dissector ("mbrtu": unit, function, registers, exception codes); anything else (gridloop
-- firmware-protocol frames, which are COBS-encoded and end in 0x00, or line noise) is shown as
-- data. Use:
--
--   wireshark -X lua_script:docs/wireshark/gridloop.lua runs/<run>/frames.pcap.gz
--   tshark -X lua_script:docs/wireshark/gridloop.lua -r runs/<run>/frames.pcap.gz -Y mbrtu
--
-- or copy this file into Wireshark's personal Lua plugins folder (Help > About > Folders).

local gridloop = Proto("gridloop", "gridloop device frame")

local directions = { [0] = "rx (device to bench)", [1] = "tx (bench to device)" }
local f_direction = ProtoField.uint8("gridloop.direction", "Direction", base.DEC, directions)
local f_device = ProtoField.string("gridloop.device", "Device")
local f_payload = ProtoField.string("gridloop.payload", "Payload")
gridloop.fields = { f_direction, f_device, f_payload }

local mbrtu = Dissector.get("mbrtu")
local data = Dissector.get("data")

-- Plain arithmetic instead of bit operators: Lua 5.2 (Wireshark up to 4.2) has none, and the
-- bit libraries differ between versions.
local function bxor(a, b)
  local result, bit = 0, 1
  while a > 0 or b > 0 do
    local x, y = a % 2, b % 2
    if x ~= y then result = result + bit end
    a, b, bit = (a - x) / 2, (b - y) / 2, bit * 2
  end
  return result
end

-- CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) of tvb bytes [0, len).
local function crc16modbus(tvb, len)
  local crc = 0xFFFF
  for i = 0, len - 1 do
    crc = bxor(crc, tvb(i, 1):uint())
    for _ = 1, 8 do
      local lsb = crc % 2
      crc = (crc - lsb) / 2
      if lsb == 1 then crc = bxor(crc, 0xA001) end
    end
  end
  return crc
end

local function is_modbus_rtu(tvb)
  local n = tvb:len()
  if n < 4 or n > 256 then return false end
  return crc16modbus(tvb, n - 2) == tvb(n - 2, 2):le_uint()
end

function gridloop.dissector(tvb, pinfo, tree)
  if tvb:len() < 3 then return 0 end
  local direction = tvb(0, 1):uint()
  local id_length = tvb(1, 1):uint()
  if direction > 1 or id_length == 0 or 2 + id_length > tvb:len() then return 0 end
  local device = tvb(2, id_length):string(ENC_UTF_8)
  local subtree = tree:add(gridloop, tvb(0, 2 + id_length), "gridloop: " .. device .. ", " .. directions[direction])
  subtree:add(f_direction, tvb(0, 1))
  subtree:add(f_device, tvb(2, id_length))
  pinfo.cols.protocol = "gridloop"
  if direction == 1 then
    pinfo.p2p_dir = P2P_DIR_SENT
    pinfo.cols.src = "bench"
    pinfo.cols.dst = device
  else
    pinfo.p2p_dir = P2P_DIR_RECV
    pinfo.cols.src = device
    pinfo.cols.dst = "bench"
  end
  if 2 + id_length == tvb:len() then return tvb:len() end
  local frame = tvb(2 + id_length):tvb()
  if is_modbus_rtu(frame) then
    subtree:add(f_payload, "Modbus RTU")
    mbrtu:call(frame, pinfo, tree)
  else
    subtree:add(f_payload, "firmware protocol or noise")
    data:call(frame, pinfo, tree)
  end
  return tvb:len()
end

local encaps = wtap_encaps or wtap
DissectorTable.get("wtap_encap"):add(encaps.USER0, gridloop)

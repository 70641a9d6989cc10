"""A protocol-faithful FreeSWITCH 1.10 simulator that speaks real ESL over TCP.

FreeSWITCH cannot be installed on the machines Hotline is built and tested on,
so the tests, the demo and the benchmarks talk to this instead. It is checked
against transcripts recorded from real FreeSWITCH 1.10.12 (see
tests/simulator/); where the two disagree, the transcript is right.

    from hotline.simulator import Switch, CallerScript, PhoneScript

    sw = Switch(password="ClueCon", host="127.0.0.1", esl_port=0, media_scale=0.1)
    sw.start()
    sw.add_extension("5000", [("set", "outside_call=true"), ("socket", "127.0.0.1:9090 async full")])
    sw.register_phone("1001", PhoneScript(answer_after_s=0.5))
    call = sw.place_call(ani="+15551234", dnis="5000", script=CallerScript(digits="2", talk_s=5.0))
    call.wait_hangup(30)
    sw.stop()

What is simulated
-----------------
- Inbound ESL (mod_event_socket): auth (a wrong password gets "-ERR invalid"
  and the disconnect notice), event plain|json|xml, nixevent, noevents,
  filter / filter delete, myevents, divert_events, linger/nolinger, api,
  bgapi (BACKGROUND_JOB with Job-UUID), sendmsg, sendevent, log, exit, with
  mod_event_socket's reply texts ("-ERR command not found" for anything else).
- Outbound ESL (the socket application): connect (the CHANNEL_DATA reply),
  myevents (the event types mod_event_socket enables, this channel only),
  linger with the linger disconnect notice, resume, sendmsg execute/hangup with
  Event-UUID, event-lock and loops; async (park) and static (sendmsg answers
  when the application has finished) modes; full and single-channel control.
- Channels with FreeSWITCH's event sequences and headers: core headers,
  channel basic data, Caller-* and Other-Leg-* profiles, variable_* on the
  event types FreeSWITCH puts them on, billing variables on
  CHANNEL_HANGUP_COMPLETE, CHANNEL_STATE / CHANNEL_CALLSTATE, CHANNEL_DESTROY
  held back while an ESL session listener (linger) still holds the session.
  The caller-profile bookkeeping the recordings show: a new profile for each
  transfer and uuid_bridge (index, transfer source, no bridge/hold time of its
  own yet, so the billing variables follow the current profile), an outbound
  leg's caller id flipped once when it gets an extension, the caller ids a
  uuid_bridge exchanges, the inline dialplan restoring the destination; only
  inbound legs' call state follows their running state.
- Applications: answer, pre_answer, ring_ready, playback (files, tone_stream,
  silence_stream, local_stream, say:/phrase:, file_string), gentones, speak,
  play_and_get_digits, read, set, export, unset, sleep, park, hangup, bridge,
  transfer, record_session, stop_record_session, echo, eavesdrop (listens,
  no media; eavesdrop_whisper_aleg and friends change nothing visible),
  conference, socket, log/info (no-ops). An unknown application hangs the
  call up with DESTINATION_OUT_OF_ORDER, as FreeSWITCH does.
- Conferences (mod_conference, see conference.py): conference
  <name>[@<profile>][+flags{mute|deaf|moderator|ghost}], dynamic conferences
  created by the first member and destroyed after the last, member ids, the
  floor, enter/exit/alone sounds and music on hold for a lone member, the
  CUSTOM conference::maintenance events (conference-create, add-member,
  del-member, floor-change, play-file, play-file-done, conference-destroy,
  and the member events of the API commands), with the recorded headers.
- API: status, version, hostname, show channels|calls|bridged_calls|
  registrations [count] [as json|xml|delim], originate, uuid_bridge,
  uuid_kill, uuid_transfer [-bleg|-both], uuid_park, uuid_answer, uuid_pre_answer,
  uuid_hold [off|toggle], uuid_record start|stop|mask|unmask, uuid_broadcast,
  uuid_break, uuid_recv_dtmf, uuid_send_dtmf, uuid_getvar, uuid_setvar,
  uuid_setvar_multi, uuid_exists, uuid_dump [json|xml|plain], hupall,
  global_getvar, eval, echo, reloadxml, sofia status [profile internal reg],
  sofia_contact, conference list [summary|delim <d>], conference <name>
  list [count]|dial|hup|kick|mute|unmute|deaf|undeaf.
- People: CallerScript (digits, abandon after patience_s, hang up talk_s after
  the bridge) and PhoneScript (answer after a delay or never, reject, hang up
  after a while); Switch.register_phone() stands for a SIP registration.
- Recordings are real WAV files (16-bit PCM, 8000 Hz, stereo when
  RECORD_STEREO=true), a quiet tone per side, masked spans silent.
- Faults, for tests: Switch.inject_garbage() writes raw bytes to chosen live
  ESL connections; Switch.drop_connections() aborts ESL connections with a
  TCP reset and no disconnect notice while the calls stay up;
  Switch.restart() drops connections and channels.

What is not simulated
---------------------
- No SIP and no RTP: there is no audio, only its timing. Media durations
  (prompt files, tone/silence streams) are multiplied by ``media_scale``;
  timeouts given in commands (digit timeouts, originate_timeout, sleep) are not.
- No loopback/ endpoint (CHAN_NOT_IMPLEMENTED), no
  event_sink/userauth/log streaming (log is acknowledged, no log/data frames
  follow), no XML dialplan files (Switch.add_extension() replaces them: one
  extension per exact destination number, the default answers and parks).

Choices where FreeSWITCH's behaviour depends on its configuration
----------------------------------------------------------------------
- The socket application's client going away (mod_event_socket listener_run()
  and socket_function()): the park ends once the running application ends;
  with ``resume`` (or socket_resume=true) the dialplan continues after the
  socket application, otherwise the call is hung up with NORMAL_CLEARING. A
  bridge that is up therefore lasts until one side hangs up.
- An unreachable socket target: socket_function() logs "Socket Error!" and
  returns, so the dialplan goes on; at its end the call is hung up
  (NORMAL_CLEARING).
- local_stream:// sources listed in ``local_streams`` (default "moh",
  "default") play until uuid_break; any other (and every one when
  local_streams=() - the recording machine had no music installed) answers
  "FILE NOT FOUND". Relative file names and files under FreeSWITCH's package
  directories count as present; other absolute paths must exist. With
  sounds_installed=False (the recording machine had no sound files) relative
  names and files under the sounds directory are not found either, so a
  conference's alone sound fails with a play-file event, as recorded.
- Conferences use the vanilla "default" profile whatever profile is named.

Known deviations from FreeSWITCH
--------------------------------
- Event dispatch has no thread latency: an outbound listener only gets the
  channel's CHANNEL_PARK if ``myevents`` came before the park (FreeSWITCH
  sometimes delivers it anyway because its dispatch thread lags; the plain
  and json transcripts of scenario 2 disagree on this).
- A DTMF digit fires its DTMF event when it arrives (FreeSWITCH fires it when
  an application dequeues it, which in practice is at once); digits pressed
  while nothing collects input are dropped after the event.
- Applications queued with sendmsg or uuid_broadcast run while the channel is
  parked, in the socket application or bridged - not between or inside other
  dialplan applications. A sendmsg ``hangup`` acts at once.
- uuid_break only affects a playback (or broadcast) that is running; a
  break with nothing playing is not remembered for the next playback.
- A socket application whose client disconnects before sending ``connect``,
  or never sends it within 25 s, ends the socket application (the call is
  hung up unless resume/socket_resume); FreeSWITCH would keep the channel
  waiting until the caller hangs up.
- Other-Leg-* headers show the other leg's current caller profile;
  FreeSWITCH shows a copy taken when the legs were joined (its timestamps and
  Logical-Direction differ too).
- A leg that was bridged keeps its leader's uuid as Channel-Call-UUID
  (variable_call_uuid) until it is destroyed; FreeSWITCH gives it back its
  own uuid when the bridge ends, which may be before or after the leg's
  CHANNEL_HANGUP_COMPLETE depending on which thread gets there first.
- Conferences without audio: nobody ever talks (Talking false, no
  start-talking/stop-talking events, energy 0), so the floor goes to the
  newest member 20 ms after it is free and stays there, as when nobody
  speaks in FreeSWITCH. When no music on hold can be opened a lone member
  hears nothing and no event fires (FreeSWITCH retries the moh-sound every
  20 ms, each time with a failed play-file event). No PINs, conference
  recording, member DTMF controls or video. The Event-Calling-Line-Number of
  conference-destroy and of the member events of API commands are not from
  a recording.
- Phones stay registered across Switch.restart() (real phones re-register).
- Variables and profile details that only sofia/RTP would produce (SDPs, RTP
  statistics, SIP headers beyond the basic ones) are omitted; the xml event
  format is a plain rendering of the headers.
"""
from .channel import ChannelInfo
from .scripts import CallerScript, PhoneScript
from .switch import CallHandle, EslConnectionInfo, Phone, Switch

__all__ = ["Switch", "CallerScript", "PhoneScript", "CallHandle", "ChannelInfo", "Phone", "EslConnectionInfo"]

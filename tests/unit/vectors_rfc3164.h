/*
 * RFC 3164 parser vectors (see vectors.h): real messages from common daemons and network devices,
 * then the timestamp, PRI, tag, hostname and byte-level edge cases.
 *
 * The expected fields are what rsyslog 8.2302's default parser (pmrfc3164) makes of each raw text
 * (received over TCP with escaping of control characters off), in sluice's terms: an absent procid
 * is empty, a message without a hostname has the sender's address, and one space between the
 * header and msg is not part of msg (SL_MSG_MSG_SP, not compared here). A vector that
 * deliberately differs from rsyslog says so and why; docs/rfc3164.md lists those differences.
 * NULL marks a field holding a NUL byte, which a C string cannot state; test_rfc3164.c checks
 * those by length.
 */
#ifndef SL_TEST_VECTORS_RFC3164_H
#define SL_TEST_VECTORS_RFC3164_H

#include "core/msg.h"
#include "vectors.h"

/* The reception time of every vector, 2026-11-22T10:00:00+00:00: the timestamp of a message that
 * has none, and the source of the year of one without a year. */
#define SL_V3_RCV "2026-11-22T10:00:00+00:00"

#define SL_V3_A10 "aaaaaaaaaa"
#define SL_V3_A100                                                                                 \
    SL_V3_A10 SL_V3_A10 SL_V3_A10 SL_V3_A10 SL_V3_A10 SL_V3_A10 SL_V3_A10 SL_V3_A10 SL_V3_A10      \
        SL_V3_A10

/* A message parsed as RFC 3164 (RFC 3164 has no MSGID or STRUCTURED-DATA). */
#define SL_V3(name, raw, raw_len, pri, flags, ts, host, app, procid, msg, tag)                     \
    {                                                                                              \
        name, raw, raw_len, pri, SL_PROTO_RFC3164, flags, ts, host, app, procid, "", "", msg, tag  \
    }

/* A message that is not syslog at all (nothing once a trailing NUL and newline are dropped):
 * kept whole in msg, marked malformed. */
#define SL_V3_MALFORMED(name, raw, raw_len, msg)                                                   \
    {                                                                                              \
        name, raw, raw_len, SL_PRI_DEFAULT, SL_PROTO_NONE, SL_MSG_MALFORMED, SL_V3_RCV,            \
            SL_VEC_FROMHOST, "", "", "", "", msg, ""                                               \
    }

static const struct sl_vector sl_vectors_rfc3164[] = {
    /* Real samples from common daemons and devices. */
    SL_V3("sshd accepted publickey",
          "<38>Nov 22 04:56:13 web01 sshd[4127]: Accepted publickey for deploy from 198.51.100.23 "
          "port 52144 ssh2: ED25519 SHA256:q2ZbF0bRk7pDc1nZPq6XoY",
          0, 38, 0, "2026-11-22T04:56:13+00:00", "web01", "sshd", "4127",
          "Accepted publickey for deploy from 198.51.100.23 port 52144 ssh2: ED25519 "
          "SHA256:q2ZbF0bRk7pDc1nZPq6XoY",
          "sshd[4127]:"),
    SL_V3("sshd pam session",
          "<38>Nov 22 04:56:14 web01 sshd[4127]: pam_unix(sshd:session): session opened for user "
          "deploy(uid=1001) by (uid=0)",
          0, 38, 0, "2026-11-22T04:56:14+00:00", "web01", "sshd", "4127",
          "pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)",
          "sshd[4127]:"),
    SL_V3("sshd failed password, day with two spaces",
          "<37>Nov  2 07:01:02 web01 sshd[811]: Failed password for invalid user admin from "
          "203.0.113.9 port 40022 ssh2",
          0, 37, 0, "2026-11-02T07:01:02+00:00", "web01", "sshd", "811",
          "Failed password for invalid user admin from 203.0.113.9 port 40022 ssh2", "sshd[811]:"),
    SL_V3(
        "sshd day with one space",
        "<37>Nov 2 07:01:02 web01 sshd[811]: Connection closed by 203.0.113.9 port 40022 [preauth]",
        0, 37, 0, "2026-11-02T07:01:02+00:00", "web01", "sshd", "811",
        "Connection closed by 203.0.113.9 port 40022 [preauth]", "sshd[811]:"),
    SL_V3("sudo command, spaces kept in msg",
          "<85>Nov 22 04:57:00 web01 sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; "
          "COMMAND=/usr/bin/systemctl restart nginx",
          0, 85, 0, "2026-11-22T04:57:00+00:00", "web01", "sudo", "",
          "  deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl "
          "restart nginx",
          "sudo:"),
    SL_V3("sudo pam session",
          "<86>Nov 22 04:57:00 web01 sudo: pam_unix(sudo:session): session opened for user "
          "root(uid=0) by deploy(uid=1001)",
          0, 86, 0, "2026-11-22T04:57:00+00:00", "web01", "sudo", "",
          "pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid=1001)",
          "sudo:"),
    SL_V3("cron CMD",
          "<78>Nov 22 05:17:01 web01 CRON[23151]: (root) CMD (   cd / && run-parts --report "
          "/etc/cron.hourly)",
          0, 78, 0, "2026-11-22T05:17:01+00:00", "web01", "CRON", "23151",
          "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)", "CRON[23151]:"),
    SL_V3("cron info", "<77>Nov 22 05:17:01 web01 cron[812]: (CRON) INFO (Running @reboot jobs)", 0,
          77, 0, "2026-11-22T05:17:01+00:00", "web01", "cron", "812",
          "(CRON) INFO (Running @reboot jobs)", "cron[812]:"),
    SL_V3("kernel ext4",
          "<6>Nov 22 04:56:13 web01 kernel: [12345.678901] EXT4-fs (sda1): mounted filesystem with "
          "ordered data mode",
          0, 6, 0, "2026-11-22T04:56:13+00:00", "web01", "kernel", "",
          "[12345.678901] EXT4-fs (sda1): mounted filesystem with ordered data mode", "kernel:"),
    SL_V3("kernel ufw block",
          "<4>Nov 22 04:56:13 web01 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 "
          "SRC=203.0.113.5 DST=192.0.2.10 LEN=40 PROTO=TCP SPT=4444 DPT=23",
          0, 4, 0, "2026-11-22T04:56:13+00:00", "web01", "kernel", "",
          "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=203.0.113.5 DST=192.0.2.10 LEN=40 "
          "PROTO=TCP SPT=4444 DPT=23",
          "kernel:"),
    SL_V3("kernel via /dev/log, no timestamp no hostname",
          "<6>kernel: [    0.000000] Linux version 6.1.0-13-amd64", 0, 6, 0, SL_V3_RCV,
          SL_VEC_FROMHOST, "kernel", "", "[    0.000000] Linux version 6.1.0-13-amd64", "kernel:"),
    SL_V3("postfix smtpd connect",
          "<22>Nov 22 04:56:13 mx1 postfix/smtpd[2231]: connect from unknown[198.51.100.7]", 0, 22,
          0, "2026-11-22T04:56:13+00:00", "mx1", "postfix", "2231",
          "connect from unknown[198.51.100.7]", "postfix/smtpd[2231]:"),
    SL_V3("postfix qmgr",
          "<22>Nov 22 04:56:13 mx1 postfix/qmgr[1022]: 4F2A51C0A5B: from=<alice@example.org>, "
          "size=1342, nrcpt=1 (queue active)",
          0, 22, 0, "2026-11-22T04:56:13+00:00", "mx1", "postfix", "1022",
          "4F2A51C0A5B: from=<alice@example.org>, size=1342, nrcpt=1 (queue active)",
          "postfix/qmgr[1022]:"),
    SL_V3("postfix smtp sent",
          "<22>Nov 22 04:56:14 mx1 postfix/smtp[2290]: 4F2A51C0A5B: to=<bob@example.net>, "
          "relay=mx.example.net[203.0.113.25]:25, delay=0.52, status=sent (250 2.0.0 OK)",
          0, 22, 0, "2026-11-22T04:56:14+00:00", "mx1", "postfix", "2290",
          "4F2A51C0A5B: to=<bob@example.net>, relay=mx.example.net[203.0.113.25]:25, delay=0.52, "
          "status=sent (250 2.0.0 OK)",
          "postfix/smtp[2290]:"),
    SL_V3("systemd started",
          "<30>Nov 22 04:56:13 web01 systemd[1]: Started Session 42 of user deploy.", 0, 30, 0,
          "2026-11-22T04:56:13+00:00", "web01", "systemd", "1",
          "Started Session 42 of user deploy.", "systemd[1]:"),
    SL_V3("systemd unit failed",
          "<27>Nov 22 04:56:13 web01 systemd[1]: nginx.service: Main process exited, code=exited, "
          "status=1/FAILURE",
          0, 27, 0, "2026-11-22T04:56:13+00:00", "web01", "systemd", "1",
          "nginx.service: Main process exited, code=exited, status=1/FAILURE", "systemd[1]:"),
    SL_V3("systemd-logind tag with dash",
          "<38>Nov 22 04:56:13 web01 systemd-logind[640]: New session 42 of user deploy.", 0, 38, 0,
          "2026-11-22T04:56:13+00:00", "web01", "systemd-logind", "640",
          "New session 42 of user deploy.", "systemd-logind[640]:"),
    SL_V3("dhclient request",
          "<30>Nov 22 04:56:13 web01 dhclient[901]: DHCPREQUEST for 192.0.2.10 on eth0 to "
          "192.0.2.1 port 67",
          0, 30, 0, "2026-11-22T04:56:13+00:00", "web01", "dhclient", "901",
          "DHCPREQUEST for 192.0.2.10 on eth0 to 192.0.2.1 port 67", "dhclient[901]:"),
    SL_V3(
        "dhclient bound",
        "<30>Nov 22 04:56:13 web01 dhclient[901]: bound to 192.0.2.10 -- renewal in 1733 seconds.",
        0, 30, 0, "2026-11-22T04:56:13+00:00", "web01", "dhclient", "901",
        "bound to 192.0.2.10 -- renewal in 1733 seconds.", "dhclient[901]:"),
    SL_V3(
        "haproxy http log",
        "<150>Nov 22 04:56:13 lb1 haproxy[3001]: 198.51.100.23:52144 [22/Nov/2026:04:56:13.120] "
        "www~ app/web01 0/0/1/12/13 200 1432 - - ---- 12/12/0/0/0 0/0 \"GET /index.html HTTP/1.1\"",
        0, 150, 0, "2026-11-22T04:56:13+00:00", "lb1", "haproxy", "3001",
        "198.51.100.23:52144 [22/Nov/2026:04:56:13.120] www~ app/web01 0/0/1/12/13 200 1432 - - "
        "---- 12/12/0/0/0 0/0 \"GET /index.html HTTP/1.1\"",
        "haproxy[3001]:"),
    SL_V3("haproxy without hostname", "<134>Nov 22 04:56:13 haproxy[3001]: Proxy www started.", 0,
          134, 0, "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "haproxy", "3001",
          "Proxy www started.", "haproxy[3001]:"),
    SL_V3("nginx error log via syslog",
          "<11>Nov 22 04:56:13 web01 nginx: 2026/11/22 04:56:13 [error] 1234#1234: *5 open() "
          "\"/usr/share/nginx/html/favicon.ico\" failed (2: No such file or directory), client: "
          "198.51.100.23, server: example.org, request: \"GET /favicon.ico HTTP/1.1\"",
          0, 11, 0, "2026-11-22T04:56:13+00:00", "web01", "nginx", "",
          "2026/11/22 04:56:13 [error] 1234#1234: *5 open() \"/usr/share/nginx/html/favicon.ico\" "
          "failed (2: No such file or directory), client: 198.51.100.23, server: example.org, "
          "request: \"GET /favicon.ico HTTP/1.1\"",
          "nginx:"),
    SL_V3("nginx access log via syslog",
          "<190>Nov 22 04:56:13 web01 nginx: 198.51.100.23 - - [22/Nov/2026:04:56:13 +0000] \"GET "
          "/ HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\"",
          0, 190, 0, "2026-11-22T04:56:13+00:00", "web01", "nginx", "",
          "198.51.100.23 - - [22/Nov/2026:04:56:13 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" "
          "\"curl/8.4.0\"",
          "nginx:"),
    SL_V3("cisco ios seq and star timestamp",
          "<189>123: *Mar  1 00:00:01.123: %SYS-5-CONFIG_I: Configured from console by console", 0,
          189, 0, SL_V3_RCV, SL_VEC_FROMHOST, "123", "",
          "*Mar  1 00:00:01.123: %SYS-5-CONFIG_I: Configured from console by console", "123:"),
    SL_V3("cisco ios seq and origin hostname",
          "<189>45: router1: Nov 22 04:56:13: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, "
          "changed state to up",
          0, 189, 0, SL_V3_RCV, SL_VEC_FROMHOST, "45", "",
          "router1: Nov 22 04:56:13: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state "
          "to up",
          "45:"),
    SL_V3("cisco ios seq and msec timestamp with zone",
          "<189>46: Nov 22 04:56:13.123 UTC: %LINEPROTO-5-UPDOWN: Line protocol on Interface "
          "GigabitEthernet0/1, changed state to up",
          0, 189, 0, SL_V3_RCV, SL_VEC_FROMHOST, "46", "",
          "Nov 22 04:56:13.123 UTC: %LINEPROTO-5-UPDOWN: Line protocol on Interface "
          "GigabitEthernet0/1, changed state to up",
          "46:"),
    SL_V3("cisco ios relayed with header",
          "<187>Nov 22 04:56:13 router1 1234: Nov 22 04:56:13.456: %SEC-6-IPACCESSLOGP: list 101 "
          "denied tcp 203.0.113.5(4444) -> 192.0.2.10(23), 1 packet",
          0, 187, 0, "2026-11-22T04:56:13+00:00", "router1", "1234", "",
          "Nov 22 04:56:13.456: %SEC-6-IPACCESSLOGP: list 101 denied tcp 203.0.113.5(4444) -> "
          "192.0.2.10(23), 1 packet",
          "1234:"),
    SL_V3("cisco nx-os",
          "<189>: 2026 Nov 22 04:56:13 UTC: %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up in mode "
          "access",
          0, 189, 0, SL_V3_RCV, SL_VEC_FROMHOST, "", "",
          "2026 Nov 22 04:56:13 UTC: %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up in mode access",
          ":"),
    SL_V3("cisco asa year and colon",
          "<166>Nov 22 2026 04:56:13: %ASA-6-302013: Built outbound TCP connection 1234 for "
          "outside:203.0.113.5/443 (203.0.113.5/443) to inside:192.0.2.10/52144 (192.0.2.10/52144)",
          0, 166, 0, "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "%ASA-6-302013", "",
          "Built outbound TCP connection 1234 for outside:203.0.113.5/443 (203.0.113.5/443) to "
          "inside:192.0.2.10/52144 (192.0.2.10/52144)",
          "%ASA-6-302013:"),
    SL_V3("cisco asa without timestamp",
          "<166>%ASA-6-302014: Teardown TCP connection 1234 for outside:203.0.113.5/443 to "
          "inside:192.0.2.10/52144 duration 0:00:30 bytes 5120 TCP FINs",
          0, 166, 0, SL_V3_RCV, SL_VEC_FROMHOST, "%ASA-6-302014", "",
          "Teardown TCP connection 1234 for outside:203.0.113.5/443 to inside:192.0.2.10/52144 "
          "duration 0:00:30 bytes 5120 TCP FINs",
          "%ASA-6-302014:"),
    SL_V3("cisco asa with device id",
          "<164>Nov 22 2026 04:56:13 asa1 : %ASA-4-106023: Deny tcp src outside:203.0.113.5/4444 "
          "dst inside:192.0.2.10/23 by access-group \"OUTSIDE_IN\" [0x0, 0x0]",
          0, 164, 0, "2026-11-22T04:56:13+00:00", "asa1", "", "",
          "%ASA-4-106023: Deny tcp src outside:203.0.113.5/4444 dst inside:192.0.2.10/23 by "
          "access-group \"OUTSIDE_IN\" [0x0, 0x0]",
          ":"),
    SL_V3("juniper mib2d",
          "<28>Nov 22 04:56:13 mx960-re0 mib2d[1520]: SNMP_TRAP_LINK_DOWN: ifIndex 545, "
          "ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/1",
          0, 28, 0, "2026-11-22T04:56:13+00:00", "mx960-re0", "mib2d", "1520",
          "SNMP_TRAP_LINK_DOWN: ifIndex 545, ifAdminStatus up(1), ifOperStatus down(2), ifName "
          "ge-0/0/1",
          "mib2d[1520]:"),
    SL_V3("juniper srx rt_flow",
          "<14>Nov 22 04:56:13 srx1 RT_FLOW: RT_FLOW_SESSION_CREATE: session created "
          "192.0.2.10/52144->203.0.113.5/443 junos-https 6 permit-web trust untrust 12345",
          0, 14, 0, "2026-11-22T04:56:13+00:00", "srx1", "RT_FLOW", "",
          "RT_FLOW_SESSION_CREATE: session created 192.0.2.10/52144->203.0.113.5/443 junos-https 6 "
          "permit-web trust untrust 12345",
          "RT_FLOW:"),
    SL_V3("fortigate key=value without header",
          "<189>date=2026-11-22 time=04:56:13 devname=\"FGT60F\" devid=\"FGT60FTK20000000\" "
          "logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" "
          "srcip=192.0.2.10 dstip=203.0.113.5 action=\"accept\"",
          0, 189, 0, SL_V3_RCV, SL_VEC_FROMHOST, "date=2026-11-22", "",
          "time=04:56:13 devname=\"FGT60F\" devid=\"FGT60FTK20000000\" logid=\"0000000013\" "
          "type=\"traffic\" subtype=\"forward\" level=\"notice\" srcip=192.0.2.10 "
          "dstip=203.0.113.5 action=\"accept\"",
          "date=2026-11-22"),
    SL_V3("fortigate key=value with header",
          "<189>Nov 22 04:56:13 FGT60F date=2026-11-22 time=04:56:13 devname=\"FGT60F\" "
          "logid=\"0100032001\" type=\"event\" msg=\"Administrator admin logged in successfully\"",
          0, 189, 0, "2026-11-22T04:56:13+00:00", "FGT60F", "date=2026-11-22", "",
          "time=04:56:13 devname=\"FGT60F\" logid=\"0100032001\" type=\"event\" "
          "msg=\"Administrator admin logged in successfully\"",
          "date=2026-11-22"),
    SL_V3("local app without hostname", "<14>Nov 22 04:56:13 myapp[777]: started", 0, 14, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "myapp", "777", "started", "myapp[777]:"),
    SL_V3("logger default", "<13>Nov 22 04:56:13 deploy: hello world", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "deploy", "", "hello world", "deploy:"),
    SL_V3("tag without colon", "<13>Nov 22 04:56:13 web01 myscript hello world", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "web01", "myscript", "", "hello world", "myscript"),
    SL_V3("dnsmasq-dhcp",
          "<30>Nov 22 04:56:13 gw dnsmasq-dhcp[1234]: DHCPACK(br0) 192.0.2.50 aa:bb:cc:dd:ee:ff "
          "laptop",
          0, 30, 0, "2026-11-22T04:56:13+00:00", "gw", "dnsmasq-dhcp", "1234",
          "DHCPACK(br0) 192.0.2.50 aa:bb:cc:dd:ee:ff laptop", "dnsmasq-dhcp[1234]:"),
    SL_V3("named query",
          "<30>Nov 22 04:56:13 ns1 named[555]: client @0x7f1c 198.51.100.7#53211 (example.org): "
          "query: example.org IN A +E(0)K (192.0.2.53)",
          0, 30, 0, "2026-11-22T04:56:13+00:00", "ns1", "named", "555",
          "client @0x7f1c 198.51.100.7#53211 (example.org): query: example.org IN A +E(0)K "
          "(192.0.2.53)",
          "named[555]:"),
    SL_V3("chronyd",
          "<30>Nov 22 04:56:13 web01 chronyd[600]: Selected source 192.0.2.123 (ntp.example.org)",
          0, 30, 0, "2026-11-22T04:56:13+00:00", "web01", "chronyd", "600",
          "Selected source 192.0.2.123 (ntp.example.org)", "chronyd[600]:"),
    SL_V3("hp procurve leading space",
          "<14> Nov 22 04:56:13 switch1 00076 ports: port 5 is now on-line", 0, 14, 0,
          "2026-11-22T04:56:13+00:00", "switch1", "00076", "", "ports: port 5 is now on-line",
          "00076"),
    SL_V3("brocade year before month",
          "<14>2026 Nov 22 04:56:13 fabric1 raslogd: [RAS-1001] Switch status change", 0, 14, 0,
          "2026-11-22T04:56:13+00:00", "fabric1", "raslogd", "", "[RAS-1001] Switch status change",
          "raslogd:"),
    SL_V3("mikrotik topics, no timestamp",
          "<30>system,info,account user admin logged in from 192.0.2.5 via ssh", 0, 30, 0,
          SL_V3_RCV, SL_VEC_FROMHOST, "system,info,account", "",
          "user admin logged in from 192.0.2.5 via ssh", "system,info,account"),
    SL_V3("ubiquiti hostname with commas",
          "<13>Nov 22 04:56:13 U6-Lite,e063da000000,v6.5.28 kernel: [12.34] wlan: up", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "U6-Lite,e063da000000,v6.5.28", "",
          "kernel: [12.34] wlan: up", "U6-Lite,e063da000000,v6.5.28"),
    SL_V3("windows eventlog relay",
          "<14>Nov 22 04:56:13 WIN-SRV01 Microsoft-Windows-Security-Auditing[4]: 4624: An account "
          "was successfully logged on.",
          0, 14, 0, "2026-11-22T04:56:13+00:00", "WIN-SRV01", "Microsoft-Windows-Security-Auditing",
          "4", "4624: An account was successfully logged on.",
          "Microsoft-Windows-Security-Auditing[4]:"),
    SL_V3(
        "apache error via logger",
        "<171>Nov 22 04:56:13 web01 apache2: [Sun Nov 22 04:56:13.123456 2026] [core:error] [pid "
        "1234] AH00126: Invalid URI in request",
        0, 171, 0, "2026-11-22T04:56:13+00:00", "web01", "apache2", "",
        "[Sun Nov 22 04:56:13.123456 2026] [core:error] [pid 1234] AH00126: Invalid URI in request",
        "apache2:"),
    SL_V3("gnome tag with dots",
          "<14>Nov 22 04:56:13 laptop org.gnome.Shell.desktop[1234]: Window manager warning", 0, 14,
          0, "2026-11-22T04:56:13+00:00", "laptop", "org.gnome.Shell.desktop", "1234",
          "Window manager warning", "org.gnome.Shell.desktop[1234]:"),

    /* Timestamps. */
    SL_V3("rfc3339 with fraction and zone", "<165>2026-11-22T04:56:13.123+01:00 web01 app[12]: iso",
          0, 165, 0, "2026-11-22T04:56:13.123+01:00", "web01", "app", "12", "iso", "app[12]:"),
    SL_V3("rfc3339 Z", "<165>2026-11-22T04:56:13Z web01 app: zulu", 0, 165, 0,
          "2026-11-22T04:56:13Z", "web01", "app", "", "zulu", "app:"),
    SL_V3("rfc3339 negative offset, six digits",
          "<165>2026-11-22T04:56:13.123456-05:30 web01 app: neg", 0, 165, 0,
          "2026-11-22T04:56:13.123456-05:30", "web01", "app", "", "neg", "app:"),
    SL_V3("rsyslog forward format", "<30>2026-11-21T23:59:59.999999+00:00 web01 sshd[42]: fwd", 0,
          30, 0, "2026-11-21T23:59:59.999999+00:00", "web01", "sshd", "42", "fwd", "sshd[42]:"),
    /* Differs from rsyslog: rsyslog requires a zone; sluice reads the timestamp in the receiver's
       zone. */
    SL_V3("rfc3339 without zone", "<165>2026-11-22T04:56:13 web01 app: local", 0, 165, 0,
          "2026-11-22T04:56:13+00:00", "web01", "app", "", "local", "app:"),
    /* Differs from rsyslog: rsyslog requires a zone; sluice reads the timestamp in the receiver's
       zone. */
    SL_V3("rfc3339 without zone with fraction", "<165>2026-11-22T04:56:13.5 web01 app: local", 0,
          165, 0, "2026-11-22T04:56:13.5+00:00", "web01", "app", "", "local", "app:"),
    SL_V3("rfc3339 bad month", "<165>2026-13-22T04:56:13Z web01 app: x", 0, 165, 0, SL_V3_RCV,
          SL_VEC_FROMHOST, "2026-13-22T04", "", "56:13Z web01 app: x", "2026-13-22T04:"),
    SL_V3("fraction three digits", "<13>Nov 22 04:56:13.123 host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13.123+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("fraction six digits", "<13>Nov 22 04:56:13.123456 host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13.123456+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("lowercase month", "<13>nov 22 04:56:13 host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("uppercase month", "<13>NOV 22 04:56:13 host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("mixed case month", "<13>nOv 22 04:56:13 host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("zero-padded day", "<13>Nov 02 04:56:13 host tag: x", 0, 13, 0,
          "2026-11-02T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("year after day", "<13>Nov 22 2026 04:56:13 host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("year after day, last year", "<13>Dec 31 2025 23:59:59 host tag: x", 0, 13, 0,
          "2025-12-31T23:59:59+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("january without year", "<13>Jan  5 01:02:03 host tag: x", 0, 13, 0,
          "2026-01-05T01:02:03+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("march", "<13>Mar 15 12:00:00 host tag: x", 0, 13, 0, "2026-03-15T12:00:00+00:00", "host",
          "tag", "", "x", "tag:"),
    SL_V3("april", "<13>Apr 30 12:00:00 host tag: x", 0, 13, 0, "2026-04-30T12:00:00+00:00", "host",
          "tag", "", "x", "tag:"),
    SL_V3("may", "<13>May  1 12:00:00 host tag: x", 0, 13, 0, "2026-05-01T12:00:00+00:00", "host",
          "tag", "", "x", "tag:"),
    SL_V3("june", "<13>Jun 30 12:00:00 host tag: x", 0, 13, 0, "2026-06-30T12:00:00+00:00", "host",
          "tag", "", "x", "tag:"),
    SL_V3("july", "<13>Jul  4 12:00:00 host tag: x", 0, 13, 0, "2026-07-04T12:00:00+00:00", "host",
          "tag", "", "x", "tag:"),
    SL_V3("august", "<13>Aug 31 12:00:00 host tag: x", 0, 13, 0, "2026-08-31T12:00:00+00:00",
          "host", "tag", "", "x", "tag:"),
    SL_V3("september", "<13>Sep  9 12:00:00 host tag: x", 0, 13, 0, "2026-09-09T12:00:00+00:00",
          "host", "tag", "", "x", "tag:"),
    SL_V3("october", "<13>Oct 10 12:00:00 host tag: x", 0, 13, 0, "2026-10-10T12:00:00+00:00",
          "host", "tag", "", "x", "tag:"),
    SL_V3("december", "<13>Dec 24 18:00:00 host tag: x", 0, 13, 0, "2026-12-24T18:00:00+00:00",
          "host", "tag", "", "x", "tag:"),
    SL_V3("feb 28", "<13>Feb 28 12:00:00 host tag: x", 0, 13, 0, "2026-02-28T12:00:00+00:00",
          "host", "tag", "", "x", "tag:"),
    /* Differs from rsyslog: rsyslog accepts any day 1-31; sluice rejects dates that do not exist.
     */
    SL_V3("feb 29 in a non-leap year", "<13>Feb 29 12:00:00 host tag: x", 0, 13, 0, SL_V3_RCV,
          "Feb", "29", "", "12:00:00 host tag: x", "29"),
    SL_V3("feb 29 in a leap year given", "<13>Feb 29 2028 12:00:00 host tag: x", 0, 13, 0,
          "2028-02-29T12:00:00+00:00", "host", "tag", "", "x", "tag:"),
    /* Differs from rsyslog: rsyslog accepts any day 1-31; sluice rejects dates that do not exist.
     */
    SL_V3("feb 30", "<13>Feb 30 04:56:13 host tag: x", 0, 13, 0, SL_V3_RCV, "Feb", "30", "",
          "04:56:13 host tag: x", "30"),
    SL_V3("hour 25 is no timestamp", "<13>Nov 22 25:56:13 host tag: x", 0, 13, 0, SL_V3_RCV, "Nov",
          "22", "", "25:56:13 host tag: x", "22"),
    SL_V3("minute 60 is no timestamp", "<13>Nov 22 04:60:13 host tag: x", 0, 13, 0, SL_V3_RCV,
          "Nov", "22", "", "04:60:13 host tag: x", "22"),
    SL_V3("leap second", "<13>Dec 31 23:59:60 host tag: x", 0, 13, 0, "2026-12-31T23:59:60+00:00",
          "host", "tag", "", "x", "tag:"),
    SL_V3("trailing colon after timestamp", "<13>Nov 22 04:56:13: host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("timestamp glued to hostname", "<13>Nov 22 04:56:13host tag: x", 0, 13, 0, SL_V3_RCV,
          "Nov", "22", "", "04:56:13host tag: x", "22"),
    SL_V3("timestamp only", "<13>Nov 22 04:56:13", 0, 13, 0, "2026-11-22T04:56:13+00:00",
          SL_VEC_FROMHOST, "", "", "", ""),
    SL_V3("timestamp and space only", "<13>Nov 22 04:56:13 ", 0, 13, 0, "2026-11-22T04:56:13+00:00",
          SL_VEC_FROMHOST, "", "", "", ""),
    SL_V3("timestamp and hostname only", "<13>Nov 22 04:56:13 host", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "", "", "", ""),
    SL_V3("timestamp, hostname and tag only", "<13>Nov 22 04:56:13 host tag", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "", "tag"),
    SL_V3("missing timestamp", "<13>host tag: x", 0, 13, 0, SL_V3_RCV, "host", "tag", "", "x",
          "tag:"),
    SL_V3("missing timestamp and hostname", "<13>sshd[42]: x", 0, 13, 0, SL_V3_RCV, SL_VEC_FROMHOST,
          "sshd", "42", "x", "sshd[42]:"),
    SL_V3("unknown month", "<13>Foo 22 04:56:13 host tag: x", 0, 13, 0, SL_V3_RCV, "Foo", "22", "",
          "04:56:13 host tag: x", "22"),

    /* PRI, empty and near-empty messages. */
    SL_V3("no pri", "Nov 22 04:56:13 host tag: x", 0, 13, SL_MSG_NO_PRI,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("no pri plain text", "hello world", 0, 13, SL_MSG_NO_PRI, SL_V3_RCV, "hello", "world", "",
          "", "world"),
    SL_V3("invalid pri 999", "<999>Nov 22 04:56:13 host tag: x", 0, 13, SL_MSG_BAD_PRI, SL_V3_RCV,
          SL_VEC_FROMHOST, "", "", "<999>Nov 22 04:56:13 host tag: x", ""),
    SL_V3("invalid pri 192", "<192>x", 0, 13, SL_MSG_BAD_PRI, SL_V3_RCV, SL_VEC_FROMHOST, "", "",
          "<192>x", ""),
    SL_V3("unterminated pri", "<13", 0, 13, SL_MSG_BAD_PRI, SL_V3_RCV, SL_VEC_FROMHOST, "", "",
          "<13", ""),
    SL_V3("pri with letters", "<abc>Nov 22 04:56:13 host tag: x", 0, 13, SL_MSG_BAD_PRI, SL_V3_RCV,
          SL_VEC_FROMHOST, "", "", "<abc>Nov 22 04:56:13 host tag: x", ""),
    SL_V3("lone angle bracket", "<", 0, 13, SL_MSG_BAD_PRI, SL_V3_RCV, SL_VEC_FROMHOST, "", "", "<",
          ""),
    /* Differs from rsyslog: rsyslog reads '<>' as PRI 0 (kern.emerg); sluice treats it as an
       invalid PRI. */
    SL_V3("empty pri", "<>Nov 22 04:56:13 host tag: x", 0, 13, SL_MSG_BAD_PRI, SL_V3_RCV,
          SL_VEC_FROMHOST, "", "", "<>Nov 22 04:56:13 host tag: x", ""),
    SL_V3("pri with leading zero", "<013>Nov 22 04:56:13 host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("pri 0", "<0>Nov 22 04:56:13 host tag: x", 0, 0, 0, "2026-11-22T04:56:13+00:00", "host",
          "tag", "", "x", "tag:"),
    SL_V3("pri 191", "<191>Nov 22 04:56:13 host tag: x", 0, 191, 0, "2026-11-22T04:56:13+00:00",
          "host", "tag", "", "x", "tag:"),
    SL_V3("only pri", "<13>", 0, 13, 0, SL_V3_RCV, SL_VEC_FROMHOST, "", "", "", ""),
    SL_V3("pri then digits only", "<13>42", 0, 13, 0, SL_V3_RCV, "42", "", "", "", ""),
    SL_V3("digits without pri", "13", 0, 13, SL_MSG_NO_PRI, SL_V3_RCV, "13", "", "", "", ""),
    SL_V3_MALFORMED("empty message", "", 0, ""),
    SL_V3("spaces only", "   ", 0, 13, SL_MSG_NO_PRI, SL_V3_RCV, SL_VEC_FROMHOST, "", "", "  ", ""),
    SL_V3("pri and spaces only", "<13>  ", 0, 13, 0, SL_V3_RCV, SL_VEC_FROMHOST, "", "", " ", ""),
    SL_V3_MALFORMED("only a newline", "\n", 0, ""),

    /* Tags, program names and procids. */
    SL_V3("very long tag",
          "<13>Nov 22 04:56:13 host " SL_V3_A100 SL_V3_A100 SL_V3_A100 SL_V3_A100 SL_V3_A100
              SL_V3_A100 ": msg",
          0, 13, 0, "2026-11-22T04:56:13+00:00", "host",
          SL_V3_A100 SL_V3_A100 SL_V3_A100 SL_V3_A100 SL_V3_A100 "aaaaaaaaaa", "",
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aa: msg",
          SL_V3_A100 SL_V3_A100 SL_V3_A100 SL_V3_A100 SL_V3_A100 "aaaaaaaaaa"),
    SL_V3("tag with slash", "<13>Nov 22 04:56:13 host postfix/smtpd[123]: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "postfix", "123", "x", "postfix/smtpd[123]:"),
    SL_V3("bracket without pid", "<13>Nov 22 04:56:13 host tag[]: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag[]:"),
    SL_V3("non-numeric pid", "<13>Nov 22 04:56:13 host tag[abc]: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "abc", "x", "tag[abc]:"),
    SL_V3("unclosed bracket", "<13>Nov 22 04:56:13 host tag[12: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag[12:"),
    SL_V3("colon only tag", "<13>Nov 22 04:56:13 host : x", 0, 13, 0, "2026-11-22T04:56:13+00:00",
          "host", "", "", "x", ":"),
    SL_V3("two spaces after tag", "<13>Nov 22 04:56:13 host tag:  x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", " x", "tag:"),
    SL_V3("no space after tag", "<13>Nov 22 04:56:13 host tag:x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("text after bracket", "<13>Nov 22 04:56:13 host tag[42]x: y", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "42", "y", "tag[42]x:"),
    SL_V3("two brackets", "<13>Nov 22 04:56:13 host a[1]b[2]: y", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "a", "1", "y", "a[1]b[2]:"),
    SL_V3("8-bit byte in tag", "<13>Nov 22 04:56:13 host t\303\244g: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "t", "", "x", "t\303\244g:"),
    SL_V3("control byte in tag", "<13>Nov 22 04:56:13 host ta\001g: y", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "ta", "", "y", "ta\001g:"),
    SL_V3("tab in tag", "<13>Nov 22 04:56:13 host tag\tx", 0, 13, 0, "2026-11-22T04:56:13+00:00",
          "host", "tag", "", "", "tag\tx"),

    /* Hostnames. */
    SL_V3("hostname ending in dash is a tag", "<13>Nov 22 04:56:13 host- tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "host-", "", "tag: x", "host-"),
    SL_V3("hostname ending in dot is a tag", "<13>Nov 22 04:56:13 host. tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "host.", "", "tag: x", "host."),
    SL_V3("fqdn with underscore", "<13>Nov 22 04:56:13 my_host.example.com tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "my_host.example.com", "tag", "", "x", "tag:"),
    SL_V3("ipv4 hostname", "<13>Nov 22 04:56:13 10.0.0.1 tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "10.0.0.1", "tag", "", "x", "tag:"),
    SL_V3("ipv6 is no hostname", "<13>Nov 22 04:56:13 2001:db8::1 tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "2001", "", "db8::1 tag: x", "2001:"),
    SL_V3("8-bit byte in hostname", "<13>Nov 22 04:56:13 h\303\244st tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "h", "", "tag: x", "h\303\244st"),
    SL_V3("dollar in hostname", "<13>Nov 22 04:56:13 ho$t tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "ho$t", "", "tag: x", "ho$t"),
    SL_V3("two spaces after timestamp", "<13>Nov 22 04:56:13  host tag: x", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "", "", "host tag: x", ""),
    SL_V3("single dash word", "<13>Nov 22 04:56:13 -", 0, 13, 0, "2026-11-22T04:56:13+00:00", "-",
          "", "", "", ""),

    /* Headerless messages: blanks, then '{' or '['. */
    SL_V3("headerless json", "<13>{\"a\":1,\"b\":\"c\"}", 0, 13, 0, SL_V3_RCV, SL_VEC_FROMHOST, "",
          "", "{\"a\":1,\"b\":\"c\"}", ""),
    SL_V3("headerless bracket after spaces", "<13>  [foo] bar", 0, 13, 0, SL_V3_RCV,
          SL_VEC_FROMHOST, "", "", " [foo] bar", ""),
    SL_V3("headerless after tab", "<13>\t{\"k\":\"v\"}", 0, 13, 0, SL_V3_RCV, SL_VEC_FROMHOST, "",
          "", "\t{\"k\":\"v\"}", ""),
    SL_V3("json after timestamp", "<13>Nov 22 04:56:13 {\"a\":1}", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", SL_VEC_FROMHOST, "{\"a\"", "", "1}", "{\"a\":"),

    /* Bytes: UTF-8, 8-bit, control characters, NUL (raw_len), trailing NUL and newline. */
    SL_V3(
        "utf-8 msg",
        "<13>Nov 22 04:56:13 host app: Gr\303\274\303\237e, \344\270\226\347\225\214 \342\234\223",
        0, 13, 0, "2026-11-22T04:56:13+00:00", "host", "app", "",
        "Gr\303\274\303\237e, \344\270\226\347\225\214 \342\234\223", "app:"),
    SL_V3("bom in msg kept", "<13>Nov 22 04:56:13 host app: \357\273\277hello", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "app", "", "\357\273\277hello", "app:"),
    SL_V3("latin-1 msg", "<13>Nov 22 04:56:13 host app: caf\351", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "app", "", "caf\351", "app:"),
    SL_V3("escape sequences in msg", "<13>Nov 22 04:56:13 host app: \033[31mred\033[0m", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "app", "", "\033[31mred\033[0m", "app:"),
    SL_V3("trailing nul dropped", "<13>Nov 22 04:56:13 host tag: x\000", 32, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("trailing newline dropped", "<13>Nov 22 04:56:13 host tag: x\n", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("one of two trailing newlines dropped", "<13>Nov 22 04:56:13 host tag: x\n\n", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x\n", "tag:"),
    SL_V3("trailing crlf keeps cr", "<13>Nov 22 04:56:13 host tag: x\r\n", 0, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x\r", "tag:"),
    SL_V3("trailing newline then nul dropped", "<13>Nov 22 04:56:13 host tag: x\n\000", 33, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", "x", "tag:"),
    SL_V3("nul inside msg", "<13>Nov 22 04:56:13 host tag: a\000b", 33, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "tag", "", NULL, "tag:"),
    /* Differs from rsyslog: rsyslog escapes NUL as #000 before parsing. */
    SL_V3("nul inside tag", "<13>Nov 22 04:56:13 host ta\000g: x", 32, 13, 0,
          "2026-11-22T04:56:13+00:00", "host", "ta", "", "x", NULL),
    SL_V3("nul inside timestamp", "<13>Nov 22 04:5\0006:13 host tag: x", 32, 13, 0, SL_V3_RCV,
          "Nov", "22", "", NULL, "22"),
    /* Differs from rsyslog: rsyslog escapes NUL as #000 before parsing. */
    SL_V3("nul right after pri", "<13>\000abc", 8, 13, 0, SL_V3_RCV, SL_VEC_FROMHOST, "", "", "",
          NULL),
};

#define SL_VECTORS_RFC3164_COUNT (sizeof(sl_vectors_rfc3164) / sizeof(sl_vectors_rfc3164[0]))

#endif
